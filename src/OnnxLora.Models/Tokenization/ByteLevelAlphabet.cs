// GPT-2 byte-level alphabet: the fixed bijection between the 256 byte values and printable
// unicode characters that byte-level BPE vocabularies (GPT-2, Llama 3, Qwen, SmolLM) are written in.
// Used to write vocabularies (EmbeddedTokenizer) and by HfBpeTokenizer to encode and decode byte-level files.
namespace OnnxLora.Models.Tokenization;

internal static class ByteLevelAlphabet
{
    /// <summary>The regex GPT-2's ByteLevel pre-tokenizer splits with when use_regex is true.</summary>
    public const string Gpt2Pattern =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> s_charToByte = Enumerable.Range(0, 256).ToDictionary(b => s_byteToChar[b], b => (byte)b);

    /// <summary>The vocabulary character that stands for byte <paramref name="b"/>.</summary>
    public static char CharFor(byte b) => s_byteToChar[b];

    /// <summary>The byte a vocabulary character stands for; false for characters outside the alphabet.</summary>
    public static bool TryByteFor(char c, out byte b) => s_charToByte.TryGetValue(c, out b);

    /// <summary>Maps UTF-8 bytes to the byte-level string form used in vocab and merges.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            chars[i] = s_byteToChar[bytes[i]];
        }
        return new string(chars);
    }

    // Printable Latin-1 bytes map to themselves; the other 68 bytes map to 256, 257, ... in byte order.
    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }
}
