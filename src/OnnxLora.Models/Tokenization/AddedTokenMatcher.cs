// Finds a tokenizer.json's added tokens (<s>, <|im_start|>, <start_of_turn>, ...) written in a text, as HF
// tokenizers does before normalizing: leftmost match first, the longest token at that position, with each
// token's lstrip/rstrip (absorb neighbouring whitespace) and single_word flags. It does not encode the rest.
using System.Text.Json;

namespace OnnxLora.Models.Tokenization;

internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, List<Entry>> _byFirstChar = [];

    private sealed record Entry(string Content, int Id, bool LStrip, bool RStrip, bool SingleWord);

    private AddedTokenMatcher()
    {
    }

    public List<(string Content, int Id)> Tokens { get; } = [];

    public HashSet<int> SpecialIds { get; } = [];

    public static AddedTokenMatcher Read(JsonElement root)
    {
        var m = new AddedTokenMatcher();
        if (!root.TryGetProperty("added_tokens", out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return m;
        }
        foreach (var t in list.EnumerateArray())
        {
            string content = t.GetProperty("content").GetString()!;
            int id = t.GetProperty("id").GetInt32();
            bool Flag(string name) => t.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
            m.Tokens.Add((content, id));
            if (Flag("special"))
            {
                m.SpecialIds.Add(id);
            }
            if (content.Length == 0)
            {
                continue;
            }
            if (!m._byFirstChar.TryGetValue(content[0], out var bucket))
            {
                m._byFirstChar[content[0]] = bucket = [];
            }
            bucket.Add(new Entry(content, id, Flag("lstrip"), Flag("rstrip"), Flag("single_word")));
        }
        foreach (var bucket in m._byFirstChar.Values)
        {
            bucket.Sort((a, b) => b.Content.Length.CompareTo(a.Content.Length));
        }
        return m;
    }

    /// <summary>The text as pieces: plain text (Id null) and added tokens (Id set), in order; empty pieces are left out.</summary>
    public List<(string Piece, int? Id)> Split(string text)
    {
        var pieces = new List<(string, int?)>();
        if (_byFirstChar.Count == 0)
        {
            pieces.Add((text, null));
            return pieces;
        }
        int plainStart = 0;
        int i = 0;
        while (i < text.Length)
        {
            Entry? hit = null;
            if (_byFirstChar.TryGetValue(text[i], out var bucket))
            {
                hit = bucket.FirstOrDefault(e => string.CompareOrdinal(text, i, e.Content, 0, e.Content.Length) == 0
                    && (!e.SingleWord || IsWordBoundary(text, i, i + e.Content.Length)));
            }
            if (hit is null)
            {
                i++;
                continue;
            }
            int start = i, end = i + hit.Content.Length;
            if (hit.LStrip)
            {
                while (start > plainStart && char.IsWhiteSpace(text[start - 1]))
                {
                    start--;
                }
            }
            if (hit.RStrip)
            {
                while (end < text.Length && char.IsWhiteSpace(text[end]))
                {
                    end++;
                }
            }
            if (start > plainStart)
            {
                pieces.Add((text[plainStart..start], null));
            }
            pieces.Add((hit.Content, hit.Id));
            plainStart = i = end;
        }
        if (plainStart < text.Length)
        {
            pieces.Add((text[plainStart..], null));
        }
        return pieces;
    }

    private static bool IsWordBoundary(string text, int start, int end) =>
        (start == 0 || !char.IsLetterOrDigit(text[start - 1])) && (end >= text.Length || !char.IsLetterOrDigit(text[end]));
}
