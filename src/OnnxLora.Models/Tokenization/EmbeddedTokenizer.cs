// The tokenizer the project ships with its embedded tiny model: a 512-entry byte-level BPE
// (3 specials + 256 bytes + merges learned from EmbeddedCorpus), written by ByteLevelBpeWriter as standard
// HF tokenizer.json/tokenizer_config.json. Output is byte-for-byte deterministic. It downloads nothing and does not encode.
namespace OnnxLora.Models.Tokenization;

public static class EmbeddedTokenizer
{
    public const int VocabSize = 512;
    public const int PadId = ByteLevelBpeWriter.PadId;
    public const int BosId = ByteLevelBpeWriter.BosId;
    public const int EosId = ByteLevelBpeWriter.EosId;
    public const string PadToken = ByteLevelBpeWriter.PadToken;
    public const string BosToken = ByteLevelBpeWriter.BosToken;
    public const string EosToken = ByteLevelBpeWriter.EosToken;
    public const string ChatTemplate = ByteLevelBpeWriter.ChatTemplate;

    private static readonly Lazy<BpeTokenizerFiles> s_files = new(() => ByteLevelBpeWriter.Build(EmbeddedCorpus.Text, VocabSize));

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="dir"/> (created if missing).</summary>
    public static void WriteTo(string dir) => s_files.Value.WriteTo(dir);
}
