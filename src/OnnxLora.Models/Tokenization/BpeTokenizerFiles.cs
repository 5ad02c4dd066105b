// The bytes of a tokenizer that ByteLevelBpeWriter built, and the number of vocabulary entries they hold.
namespace OnnxLora.Models.Tokenization;

public sealed record BpeTokenizerFiles(byte[] Tokenizer, byte[] Config, int VocabSize)
{
    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="dir"/> (created if missing).</summary>
    public void WriteTo(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "tokenizer.json"), Tokenizer);
        File.WriteAllBytes(Path.Combine(dir, "tokenizer_config.json"), Config);
    }
}
