// Turns RawExamples into TokenizedExamples with loss masks:
// text → [BOS] text EOS (all counted); prompt/completion → [BOS] prompt (masked) completion EOS (counted);
// messages → exactly the ids of the model's template rendering (nothing added, nothing dropped), with the
// assistant turns counted (ChatTokenizer). BOS for the first two follows add_bos_token; EOS is appended so the
// model learns to stop. Examples with nothing to learn, or no counted token left after max_seq_len, are dropped
// and counted (TokenizedDataset), never silently trained on.
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Onnx;

namespace OnnxLora.Training.Data;

public sealed class ExampleTokenizer
{
    private readonly TextTokenizer _tokenizer;
    private readonly ChatTokenizer? _chat;
    private readonly int _eosId;

    /// <param name="chat">Needed only for {"messages"} datasets.</param>
    public ExampleTokenizer(TextTokenizer tokenizer, int maxSeqLen, ChatTokenizer? chat = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (maxSeqLen < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxSeqLen), maxSeqLen, "max_seq_len must be >= 2");
        }
        _tokenizer = tokenizer;
        _chat = chat;
        MaxSeqLen = maxSeqLen;
        _eosId = tokenizer.EosId ?? throw new BadInputException(
            "tokenizer has no eos_token; cannot mark where a completion ends");
    }

    public int MaxSeqLen { get; }

    /// <summary>Tokenises every example; truncated ones are cut to max_seq_len, unusable ones dropped, both counted.</summary>
    public TokenizedDataset TokenizeAll(IReadOnlyList<RawExample> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var kept = new List<TokenizedExample>(examples.Count);
        int truncated = 0, empty = 0, uncounted = 0;
        foreach (RawExample e in examples)
        {
            var r = Tokenize(e);
            switch (r.Status)
            {
                case ExampleStatus.Empty:
                    empty++;
                    break;
                case ExampleStatus.NoCountedToken:
                    uncounted++;
                    break;
                default:
                    kept.Add(r.Example);
                    truncated += r.Truncated ? 1 : 0;
                    break;
            }
        }
        return new TokenizedDataset(kept, truncated, empty, uncounted);
    }

    /// <summary>One example, cut to max_seq_len; Status says whether it is kept or why it would be dropped.</summary>
    public TokenizeResult Tokenize(RawExample example)
    {
        ArgumentNullException.ThrowIfNull(example);
        var ids = new List<long>();
        var labels = new List<long>();
        string? text = null;
        bool empty;
        switch (example.Format)
        {
            case DatasetFormat.Text:
                empty = string.IsNullOrWhiteSpace(example.Text);
                AddLeadingBos(ids, labels, counted: true);
                Add(ids, labels, _tokenizer.Encode(example.Text!, addSpecialTokens: false), counted: true);
                Add(ids, labels, [_eosId], counted: true);
                break;
            case DatasetFormat.PromptCompletion:
                empty = string.IsNullOrWhiteSpace(example.Completion);
                AddLeadingBos(ids, labels, counted: false);
                Add(ids, labels, _tokenizer.Encode(example.Prompt!, addSpecialTokens: false), counted: false);
                Add(ids, labels, _tokenizer.Encode(example.Completion!, addSpecialTokens: false), counted: true);
                Add(ids, labels, [_eosId], counted: true);
                break;
            case DatasetFormat.Messages:
                empty = example.Messages!.Where(m => m.Role == "assistant").All(m => string.IsNullOrWhiteSpace(m.Content));
                text = AddMessages(example, ids, labels);
                break;
            default:
                throw new ArgumentException($"{example.Source}: example has no layout ({example.Format})", nameof(example));
        }
        bool truncated = ids.Count > MaxSeqLen;
        int n = Math.Min(ids.Count, MaxSeqLen);
        var result = new TokenizedExample(ids.Take(n).ToArray(), labels.Take(n).ToArray());
        // A label at position 0 is never used after the shift, so a counted token must sit at index >= 1.
        bool anyCounted = result.Labels.Skip(1).Any(l => l != TokenizedExample.IgnoreIndex);
        var status = empty ? ExampleStatus.Empty : anyCounted ? ExampleStatus.Kept : ExampleStatus.NoCountedToken;
        return new TokenizeResult(result, truncated, status, text);
    }

    private string AddMessages(RawExample example, List<long> ids, List<long> labels)
    {
        ChatTokenizer chat = _chat ?? throw new BadInputException(
            $"{example.Source}: a {{\"messages\"}} dataset needs a chat template");
        ChatEncoding encoding;
        try
        {
            encoding = chat.Encode(example.Messages!);
        }
        catch (Models.Chat.Jinja.JinjaException e)
        {
            throw new InvalidDataException($"{example.Source}: {chat.Renderer.Source}: {e.Message}", e);
        }
        for (int i = 0; i < encoding.Ids.Count; i++)
        {
            ids.Add(encoding.Ids[i]);
            labels.Add(encoding.Counted[i] ? encoding.Ids[i] : TokenizedExample.IgnoreIndex);
        }
        return encoding.Text;
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
