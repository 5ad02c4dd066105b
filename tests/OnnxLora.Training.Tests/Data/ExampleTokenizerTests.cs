// Loss masks of the three layouts, token by token, with the embedded tokenizer (BOS added, EOS appended).
using OnnxLora.Models.Tokenization;
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Tests.Data;

public sealed class ExampleTokenizerTests
{
    private const long Ignore = TokenizedExample.IgnoreIndex;
    private static TextTokenizer Tok => TokenizerFixture.Tokenizer;

    private static TokenizedExample One(string jsonl, int maxSeqLen = 256, ChatTemplate? template = null)
    {
        var raw = JsonlDatasetReader.Parse(jsonl, "t.jsonl");
        return new ExampleTokenizer(Tok, maxSeqLen, template).Tokenize(raw[0]).Example;
    }

    [Fact]
    public void TextCountsEveryTokenAndEndsWithEos()
    {
        var e = One("{\"text\": \"the ship sails\"}");
        long[] body = TokenizerFixture.Ids("the ship sails");
        long[] expected = [EmbeddedTokenizer.BosId, .. body, EmbeddedTokenizer.EosId];
        Assert.Equal(expected, e.InputIds);
        Assert.Equal(expected, e.Labels);
    }

    [Fact]
    public void PromptCompletionMasksPromptAndCountsCompletionAndEos()
    {
        var e = One("{\"prompt\": \"Where is the gold?\\n\", \"completion\": \"Arr, buried deep.\"}");
        long[] prompt = TokenizerFixture.Ids("Where is the gold?\n");
        long[] completion = TokenizerFixture.Ids("Arr, buried deep.");
        long[] ids = [EmbeddedTokenizer.BosId, .. prompt, .. completion, EmbeddedTokenizer.EosId];
        Assert.Equal(ids, e.InputIds);
        for (int i = 0; i < ids.Length; i++)
        {
            long want = i <= prompt.Length ? Ignore : ids[i];
            Assert.True(want == e.Labels[i], $"label {i}: want {want}, got {e.Labels[i]}");
        }
        Assert.Equal(EmbeddedTokenizer.EosId, e.Labels[^1]);
    }

    [Fact]
    public void MessagesCountOnlyAssistantContentAndItsEos()
    {
        string line = "{\"messages\": [{\"role\": \"system\", \"content\": \"Be a pirate.\"}," +
            "{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Ahoy!\"}," +
            "{\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \"Fair winds.\"}]}";
        var template = ChatTemplate.Resolve(null, Tok.ChatTemplate);
        Assert.Equal("zephyr", template.Name);
        var e = One(line, template: template);

        var ids = new List<long> { EmbeddedTokenizer.BosId };
        var labels = new List<long> { Ignore };
        void Add(string text, bool counted)
        {
            foreach (long id in TokenizerFixture.Ids(text))
            {
                ids.Add(id);
                labels.Add(counted ? id : Ignore);
            }
        }
        void Eos(bool counted)
        {
            ids.Add(EmbeddedTokenizer.EosId);
            labels.Add(counted ? EmbeddedTokenizer.EosId : Ignore);
        }
        foreach (var (role, content) in new[] { ("system", "Be a pirate."), ("user", "Hi"), ("assistant", "Ahoy!"), ("user", "Bye"), ("assistant", "Fair winds.") })
        {
            bool a = role == "assistant";
            Add($"<|{role}|>\n", false);
            Add(content, a);
            Eos(a);
            Add("\n", false);
        }
        Assert.Equal(ids, e.InputIds);
        Assert.Equal(labels, e.Labels);
        Assert.Equal(2, e.Labels.Count(l => l == EmbeddedTokenizer.EosId));
    }

    [Fact]
    public void PromptLongerThanMaxSeqLenNamesTheLine()
    {
        string jsonl = "{\"prompt\": \"a\", \"completion\": \"b\"}\n\n{\"prompt\": \"" + string.Concat(Enumerable.Repeat("word ", 40)) + "\", \"completion\": \"x\"}";
        var raw = JsonlDatasetReader.Parse(jsonl, "train.jsonl");
        var tokenizer = new ExampleTokenizer(Tok, 16);
        var ex = Assert.Throws<InvalidDataException>(() => tokenizer.TokenizeAll(raw));
        Assert.StartsWith("train.jsonl:3: max_seq_len 16 is shorter than the prompt (", ex.Message);
    }

    [Fact]
    public void LongExamplesAreTruncatedAndCounted()
    {
        string jsonl = "{\"prompt\": \"q\", \"completion\": \"" + string.Concat(Enumerable.Repeat("long answer ", 30)) + "\"}\n{\"prompt\": \"q\", \"completion\": \"short\"}";
        var data = new ExampleTokenizer(Tok, 12).TokenizeAll(JsonlDatasetReader.Parse(jsonl, "t.jsonl"));
        Assert.Equal(1, data.TruncatedCount);
        Assert.Equal(12, data.Examples[0].Length);
        Assert.True(data.Examples[1].Length < 12);
    }

    [Fact]
    public void ModelWithoutTemplateNeedsOption()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => ChatTemplate.Resolve(null, null));
        Assert.StartsWith("model has no chat_template; pass --chat-template", ex.Message);
        Assert.Equal("chatml", ChatTemplate.Resolve("chatml", null).Name);
        Assert.Equal("chatml", ChatTemplate.Recognise("{% for m in messages %}<|im_start|>{{ m['role'] }}")!.Name);
        Assert.Equal("llama2", ChatTemplate.Recognise("{{ bos_token + '[INST] ' + content }}")!.Name);
        Assert.Equal("zephyr", ChatTemplate.Recognise("{{ '<|' + message['role'] + '|>\\n' }}")!.Name);
    }

    [Fact]
    public void PirateDatasetTokenisesEveryExample()
    {
        var raw = JsonlDatasetReader.Parse(EmbeddedDatasets.Pirate(), "pirate.jsonl");
        Assert.True(raw.Count >= 300);
        Assert.All(raw, r => Assert.Equal(DatasetFormat.PromptCompletion, r.Format));
        var data = new ExampleTokenizer(Tok, 256).TokenizeAll(raw);
        Assert.Equal(0, data.TruncatedCount);
        Assert.All(data.Examples, e => Assert.Equal(EmbeddedTokenizer.EosId, e.Labels[^1]));
    }
}
