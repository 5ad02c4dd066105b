// Turns RawExamples into TokenizedExamples with loss masks, segment by segment so mask boundaries are exact:
// text → [BOS] text EOS (all counted); prompt/completion → [BOS] prompt (masked) completion EOS (counted);
// messages → the chat template's segments, only assistant content and its end token counted.
// BOS follows the tokenizer config (add_bos_token); EOS is always appended so the model learns to stop.
using OnnxLora.Models.Tokenization;

namespace OnnxLora.Training.Data;

public sealed class ExampleTokenizer
{
    private readonly TextTokenizer _tokenizer;
    private readonly ChatTemplate? _template;
    private readonly int _eosId;
    private readonly string _eosText;

    /// <param name="template">Needed only for {"messages"} datasets.</param>
    public ExampleTokenizer(TextTokenizer tokenizer, int maxSeqLen, ChatTemplate? template = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (maxSeqLen < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxSeqLen), maxSeqLen, "max_seq_len must be >= 2");
        }
        _tokenizer = tokenizer;
        _template = template;
        MaxSeqLen = maxSeqLen;
        _eosId = tokenizer.EosId ?? throw new InvalidOperationException(
            "tokenizer has no eos_token; cannot mark where a completion ends");
        _eosText = tokenizer.Decode([_eosId], skipSpecialTokens: false);
    }

    public int MaxSeqLen { get; }

    /// <summary>Tokenises every example; truncated ones are cut to max_seq_len and counted.</summary>
    public TokenizedDataset TokenizeAll(IReadOnlyList<RawExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var result = new List<TokenizedExample>(examples.Count);
        int truncated = 0;
        foreach (RawExample e in examples)
        {
            var (example, wasTruncated) = Tokenize(e);
            result.Add(example);
            truncated += wasTruncated ? 1 : 0;
        }
        return new TokenizedDataset(result, truncated);
    }

    /// <summary>One example; Truncated says whether it was cut to max_seq_len.</summary>
    public (TokenizedExample Example, bool Truncated) Tokenize(RawExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var ids = new List<long>();
        var labels = new List<long>();
        switch (example.Format)
        {
            case DatasetFormat.Text:
                AddLeadingBos(ids, labels, counted: true);
                Add(ids, labels, _tokenizer.Encode(example.Text!, addSpecialTokens: false), counted: true);
                Add(ids, labels, [_eosId], counted: true);
                break;
            case DatasetFormat.PromptCompletion:
                AddLeadingBos(ids, labels, counted: false);
                Add(ids, labels, _tokenizer.Encode(example.Prompt!, addSpecialTokens: false), counted: false);
                Add(ids, labels, _tokenizer.Encode(example.Completion!, addSpecialTokens: false), counted: true);
                Add(ids, labels, [_eosId], counted: true);
                break;
            case DatasetFormat.Messages:
                AddMessages(example, ids, labels);
                break;
            default:
                throw new ArgumentException($"{example.Source}: example has no layout ({example.Format})", nameof(example));
        }
        return Fit(example, ids, labels);
    }

    private void AddMessages(RawExample example, List<long> ids, List<long> labels)
    {
        ChatTemplate template = _template ?? throw new InvalidOperationException(
            $"{example.Source}: a {{\"messages\"}} dataset needs a chat template; pass --chat-template");
        IReadOnlyList<ChatSegment> segments = template.Render(example.Messages!);
        if (segments.Count == 0 || segments[0].Kind != ChatSegmentKind.Bos)
        {
            AddLeadingBos(ids, labels, counted: false);
        }
        foreach (ChatSegment s in segments)
        {
            IReadOnlyList<int> piece = s.Kind switch
            {
                ChatSegmentKind.Bos => _tokenizer.BosId is { } bos ? [bos] : [],
                ChatSegmentKind.Eos => [_eosId],
                ChatSegmentKind.EndOfTurn when s.Text == _eosText => [_eosId],
                _ => _tokenizer.Encode(s.Text, addSpecialTokens: false),
            };
            Add(ids, labels, piece, s.Trainable);
        }
    }

    private (TokenizedExample, bool) Fit(RawExample example, List<long> ids, List<long> labels)
    {
        int firstCounted = labels.FindIndex(l => l != TokenizedExample.IgnoreIndex);
        if (firstCounted < 0)
        {
            throw new InvalidDataException($"{example.Source}: no token carries loss (empty completion?)");
        }
        // A label at position 0 is never used after the shift, so a counted token must sit at index >= 1.
        int needed = Math.Max(firstCounted, 1);
        if (needed >= MaxSeqLen)
        {
            throw new InvalidDataException(
                $"{example.Source}: max_seq_len {MaxSeqLen} is shorter than the prompt ({firstCounted} tokens)");
        }
        bool truncated = ids.Count > MaxSeqLen;
        int n = Math.Min(ids.Count, MaxSeqLen);
        return (new TokenizedExample(ids.Take(n).ToArray(), labels.Take(n).ToArray()), truncated);
    }

    private void AddLeadingBos(List<long> ids, List<long> labels, bool counted)
    {
        if (_tokenizer.AddsBos && _tokenizer.BosId is { } bos)
        {
            Add(ids, labels, [bos], counted);
        }
    }

    private static void Add(List<long> ids, List<long> labels, IReadOnlyList<int> piece, bool counted)
    {
        foreach (int id in piece)
        {
            ids.Add(id);
            labels.Add(counted ? id : TokenizedExample.IgnoreIndex);
        }
    }
}
