// `onnxlora tokenize` as a user runs it: --json ids and labels equal the transformers.js reference for every
// conversation of Llama 2, Llama 3.1, Qwen3 and Gemma 3; all three dataset layouts; dropped examples reported;
// the text view marks the counted part; a model without a template gets one error line.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OnnxLora.Cli.Tests;

public sealed class TokenizeCommandTests
{
    public static readonly TheoryData<string> Models = new(ChatReference.Models);

    [Theory]
    [MemberData(nameof(Models))]
    public void JsonIdsAndLabelsEqualTheReferenceOnEveryConversation(string model)
    {
        using var dir = new TempDir();
        var cases = ChatReference.Fixture(model)["cases"]!.AsArray();
        File.WriteAllLines(dir["chat.jsonl"], cases.Select(c => new JsonObject { ["messages"] = c!["messages"]!.DeepClone() }.ToJsonString()));
        var r = CliProcess.Run("tokenize", "--model", ChatReference.ModelDir(model), "--data", dir["chat.jsonl"], "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        var lines = r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(cases.Count, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var ids = doc.RootElement.GetProperty("input_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var labels = doc.RootElement.GetProperty("labels").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            string name = cases[i]!["name"]!.GetValue<string>();
            Assert.True(ChatReference.Ints(cases[i]!["input_ids"]).SequenceEqual(ids), $"{model}/{name}: input_ids differ");
            Assert.True(ChatReference.Ints(cases[i]!["labels"]).SequenceEqual(labels), $"{model}/{name}: labels differ");
        }
    }

    [Fact]
    public void TextAndPromptCompletionLayoutsAndDroppedExamples()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir["t.jsonl"], ["""{"text": "Hello"}""", """{"text": ""}"""]);
        File.WriteAllLines(dir["pc.jsonl"], ["""{"prompt": "Q: ", "completion": "A"}"""]);
        string model = ChatReference.ModelDir("llama3_1");

        var text = CliProcess.Run("tokenize", "--model", model, "--data", dir["t.jsonl"], "--json");
        Assert.Equal(0, text.ExitCode);
        var first = JsonNode.Parse(text.StdOut.Split('\n')[0])!;
        // <|begin_of_text|> Hello <|eot_id|>: Llama 3.1's add_bos_token default is off, so no BOS; EOS appended, all counted.
        Assert.Equal("[9906,128009]", first["input_ids"]!.ToJsonString());
        Assert.Equal("[9906,128009]", first["labels"]!.ToJsonString());
        Assert.Contains("dropped 1 empty and 0 with no counted token", text.StdErr, StringComparison.Ordinal);

        var pc = CliProcess.Run("tokenize", "--model", model, "--data", dir["pc.jsonl"]);
        Assert.Equal(0, pc.ExitCode);
        Assert.Contains("Q: ⟦A<|eot_id|>⟧", pc.StdOut, StringComparison.Ordinal);
        Assert.Contains("5 tokens, 2 counted", pc.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelWithoutTemplateIsOneErrorLine()
    {
        using var dir = new TempDir();
        File.Copy(Path.Combine(Fixture.Base, "tokenizer.json"), dir["tokenizer.json"]);
        File.Copy(Path.Combine(Fixture.Base, "tokenizer_config.json"), dir["tokenizer_config.json"]);
        File.WriteAllText(dir["chat.jsonl"], """{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Ahoy"}]}""" + "\n");
        var r = CliProcess.Run("tokenize", "--model", dir.Path, "--data", dir["chat.jsonl"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"error: {dir.Path}: the model has no chat template (no chat_template.jinja, no chat_template in tokenizer_config.json); " +
            "pass --chat-template (chatml, llama2, llama3, zephyr, plain or a .jinja file)\n", r.StdErr);
        var ok = CliProcess.Run("tokenize", "--model", dir.Path, "--data", dir["chat.jsonl"], "--chat-template", "llama2", "--json");
        Assert.Equal(0, ok.ExitCode);
    }
}
