// The embedded tokenizer written to a temp folder once and loaded through TextTokenizer (and its chat template),
// shared by data tests.
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Training.Tests.Data;

internal static class TokenizerFixture
{
    private static readonly Lazy<string> s_dir = new(() =>
    {
        string dir = TempDir.ForProcess("onnxlora-data-tests");
        EmbeddedTokenizer.WriteTo(dir);
        return dir;
    });

    private static readonly Lazy<TextTokenizer> s_tokenizer = new(() => TextTokenizer.Load(s_dir.Value));

    public static TextTokenizer Tokenizer => s_tokenizer.Value;

    /// <summary>The embedded model's own chat template over the embedded tokenizer.</summary>
    public static ChatTokenizer Chat => new(ChatTemplateRenderer.ForModel(s_dir.Value), Tokenizer);

    public static long[] Ids(string text) => Tokenizer.Encode(text, addSpecialTokens: false).Select(i => (long)i).ToArray();
}
