// Finds the assistant turns in a conversation's ids by rendering prefixes (TRL's rule), for templates without
// {% generation %} blocks. Turn k starts where the prompt for it, render(messages[:k], add_generation_prompt=True),
// stops agreeing with the full ids, and ends where render(messages[:k+1]) does. Some templates render a *last*
// assistant turn differently (Qwen3 adds an empty <think> block only to the final turn), so messages[:k+1] is not
// always a prefix of the whole; then the turn ends after the longest tail of that rendering's turn that occurs
// before the next assistant turn's prompt (for Qwen3: the content and <|im_end|>\n, without the think block).
namespace OnnxLora.Models.Chat;

public static class AssistantSpans
{
    /// <summary>[start, end) token ranges of the assistant turns; <paramref name="encodePrefix"/> renders and tokenizes messages[:k].</summary>
    public static IReadOnlyList<(int Start, int End)> Find(
        IReadOnlyList<ChatMessage> messages, IReadOnlyList<int> ids, Func<IReadOnlyList<ChatMessage>, bool, IReadOnlyList<int>> encodePrefix)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(encodePrefix);
        var assistants = Enumerable.Range(0, messages.Count).Where(i => messages[i].Role == "assistant").ToList();
        var prompts = assistants.Select(k => encodePrefix(Take(messages, k), true)).ToList();
        var starts = prompts.Select(p => CommonPrefix(p, ids)).ToList();
        var spans = new List<(int, int)>(assistants.Count);
        for (int j = 0; j < assistants.Count; j++)
        {
            int start = starts[j];
            int limit = j + 1 < starts.Count ? starts[j + 1] : ids.Count;
            var full = encodePrefix(Take(messages, assistants[j] + 1), false);
            int end;
            if (CommonPrefix(full, ids) == full.Count)
            {
                end = full.Count;
            }
            else
            {
                int turnStart = CommonPrefix(prompts[j], full);
                end = EndOfLongestTail(ids, full, turnStart, start, limit);
            }
            if (end > start)
            {
                spans.Add((start, end));
            }
        }
        return spans;
    }

    /// <summary>How many leading ids <paramref name="a"/> and <paramref name="b"/> share.</summary>
    public static int CommonPrefix(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int n = Math.Min(a.Count, b.Count);
        int i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }
        return i;
    }

    private static List<ChatMessage> Take(IReadOnlyList<ChatMessage> messages, int count) => messages.Take(count).ToList();

    // The end, within ids[from, limit), of the first occurrence of the longest suffix of full[turnStart..].
    private static int EndOfLongestTail(IReadOnlyList<int> ids, IReadOnlyList<int> full, int turnStart, int from, int limit)
    {
        int turnLength = full.Count - turnStart;
        for (int len = turnLength; len > 0; len--)
        {
            int tail = full.Count - len;
            for (int i = from; i + len <= limit; i++)
            {
                int j = 0;
                while (j < len && ids[i + j] == full[tail + j])
                {
                    j++;
                }
                if (j == len)
                {
                    return i + len;
                }
            }
        }
        return from;
    }
}
