// The embedded tokenizer written to a temp folder once and loaded through TextTokenizer, shared by data tests.
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Training.Tests.Data;

internal static class TokenizerFixture
{
    private static readonly Lazy<TextTokenizer> s_tokenizer = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), "onnxlora-data-tests-" + Environment.ProcessId);
        EmbeddedTokenizer.WriteTo(dir);
        return TextTokenizer.Load(dir);
    });

    public static TextTokenizer Tokenizer => s_tokenizer.Value;

    public static long[] Ids(string text) => Tokenizer.Encode(text, addSpecialTokens: false).Select(i => (long)i).ToArray();
}
