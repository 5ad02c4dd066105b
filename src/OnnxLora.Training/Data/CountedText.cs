// An example's tokens as text pieces, each marked counted (carries loss) or not, for showing a person what
// training sees (`onnxlora tokenize`). Pieces are cut from one decoding of the whole sequence at the token
// boundaries where counting starts or stops, so decoders that strip a leading space do it once.
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Training.Data;

public static class CountedText
{
    public static IReadOnlyList<(string Text, bool Counted)> Pieces(TextTokenizer tokenizer, TokenizedExample example)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(example);
        var ids = example.InputIds.Select(i => (int)i).ToArray();
        string full = tokenizer.Decode(ids, skipSpecialTokens: false);
        var pieces = new List<(string, bool)>();
        int start = 0, from = 0;
        for (int i = 1; i <= ids.Length; i++)
        {
            if (i < ids.Length && IsCounted(example, i) == IsCounted(example, start))
            {
                continue;
            }
            int to = i == ids.Length ? full.Length : Math.Clamp(tokenizer.Decode(ids[..i], skipSpecialTokens: false).Length, from, full.Length);
            pieces.Add((full[from..to], IsCounted(example, start)));
            start = i;
            from = to;
        }
        return pieces;
    }

    private static bool IsCounted(TokenizedExample e, int i) => e.Labels[i] != TokenizedExample.IgnoreIndex;
}
