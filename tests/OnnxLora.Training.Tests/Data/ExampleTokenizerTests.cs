// Loss masks of the three layouts, token by token, with the embedded tokenizer (text/prompt-completion: BOS added,
// EOS appended; messages: the template's rendering and nothing else), and which examples are dropped and counted.
using OnnxLora.Models.Chat;
using OnnxLora.Models.Tokenization;
using OnnxLora.Training.Data;

namespace OnnxLora.Training.Tests.Data;

public sealed class ExampleTokenizerTests
{
    private const long Ignore = TokenizedExample.IgnoreIndex;
    private static TextTokenizer Tok => TokenizerFixture.Tokenizer;

    private static TokenizedExample One(string jsonl, int maxSeqLen = 256, ChatTokenizer? chat = null)
    {
        var raw = JsonlDatasetReader.Parse(jsonl, "t.jsonl");
        return new ExampleTokenizer(Tok, maxSeqLen, chat).Tokenize(raw[0]).Example;
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
    public void MessagesAreExactlyTheTemplateRenderingWithAssistantTurnsCounted()
    {
        string line = "{\"messages\": [{\"role\": \"system\", \"content\": \"Be a pirate.\"}," +
            "{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Ahoy!\"}," +
            "{\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \"Fair winds.\"}]}";
        var e = One(line, chat: TokenizerFixture.Chat);

        // The embedded template writes BOS itself; the ids are the rendering's, with no second BOS and no extra EOS.
        const string rendered = "<s><|system|>\nBe a pirate.</s>\n<|user|>\nHi</s>\n<|assistant|>\nAhoy!</s>\n<|user|>\nBye</s>\n<|assistant|>\nFair winds.</s>\n";
        Assert.Equal(TokenizerFixture.Ids(rendered), e.InputIds);
        Assert.Equal(1, e.InputIds.Count(i => i == EmbeddedTokenizer.BosId));
        var counted = new List<string>();
        var run = new List<int>();
        for (int i = 0; i <= e.Length; i++)
        {
            if (i < e.Length && e.Labels[i] != Ignore)
            {
                Assert.Equal(e.InputIds[i], e.Labels[i]);
                run.Add((int)e.Labels[i]);
            }
            else if (run.Count > 0)
            {
                counted.Add(Tok.Decode(run, skipSpecialTokens: false));
                run.Clear();
            }
        }
        // Each assistant turn counts from the end of its generation prompt to the end of the turn (TRL's rule).
        Assert.Equal(["Ahoy!</s>\n", "Fair winds.</s>\n"], counted);
    }

    [Fact]
    public void PromptThatFillsMaxSeqLenIsDroppedAndCounted()
    {
        string jsonl = "{\"prompt\": \"a\", \"completion\": \"b\"}\n\n{\"prompt\": \"" + string.Concat(Enumerable.Repeat("word ", 40)) + "\", \"completion\": \"x\"}";
        var raw = JsonlDatasetReader.Parse(jsonl, "train.jsonl");
        var tokenizer = new ExampleTokenizer(Tok, 16);
        Assert.Equal(ExampleStatus.NoCountedToken, tokenizer.Tokenize(raw[1]).Status);
        var data = tokenizer.TokenizeAll(raw);
        Assert.Equal(1, data.Count);
        Assert.Equal(1, data.NoCountedTokenCount);
        Assert.Equal(0, data.EmptyCount);
    }

    [Fact]
    public void EmptyExamplesAreDroppedAndCounted()
    {
        string jsonl = "{\"text\": \"\"}\n{\"text\": \"  \\n \"}\n{\"text\": \"kept\"}";
        var data = new ExampleTokenizer(Tok, 64).TokenizeAll(JsonlDatasetReader.Parse(jsonl, "t.jsonl"));
        Assert.Equal(1, data.Count);
        Assert.Equal(2, data.EmptyCount);
        var pc = new ExampleTokenizer(Tok, 64).TokenizeAll(JsonlDatasetReader.Parse(
            "{\"prompt\": \"q\", \"completion\": \"\"}\n{\"prompt\": \"q\", \"completion\": \"a\"}", "t.jsonl"));
        Assert.Equal((1, 1), (pc.Count, pc.EmptyCount));
        var chat = new ExampleTokenizer(Tok, 64, TokenizerFixture.Chat).TokenizeAll(JsonlDatasetReader.Parse(
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \" \"}]}", "t.jsonl"));
        Assert.Equal((0, 1), (chat.Count, chat.EmptyCount));
    }

    [Fact]
    public void TemplateErrorNamesTheLineAndTemplate()
    {
        string line = "{\"messages\": [{\"role\": \"assistant\", \"content\": \"A\"}]}";
        var renderer = new ChatTemplateRenderer("{% if messages[0].role != 'user' %}{{ raise_exception('must start with user') }}{% endif %}",
            new Dictionary<string, string?>(), "t.jinja");
        var et = new ExampleTokenizer(Tok, 64, new ChatTokenizer(renderer, Tok));
        var e = Assert.Throws<InvalidDataException>(() => et.Tokenize(JsonlDatasetReader.Parse(line, "d.jsonl")[0]));
        Assert.Equal("d.jsonl:1: t.jinja: chat template line 1: must start with user", e.Message);
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
