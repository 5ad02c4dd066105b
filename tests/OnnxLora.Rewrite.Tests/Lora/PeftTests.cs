// The one home of PEFT's names, scaling and defaults: names match the tensors PEFT 0.21 wrote in the
// fixture, every consumer (settings, fold targets, .onnx_adapter export) takes its scaling from
// Peft.Scaling, and an adapter_config.json without a key means what PEFT's LoraConfig means by it.
using System.Text.Json.Nodes;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Rewrite.Fold;
using OnnxLora.Rewrite.Lora;
using OnnxLora.Rewrite.Tests.Fold;

namespace OnnxLora.Rewrite.Tests.Lora;

public sealed class PeftTests(ImportedFixture fx) : IClassFixture<ImportedFixture>
{
    private const string Module = "model.layers.0.self_attn.q_proj";

    [Fact]
    public void NamesAreThoseThePeftLibraryWrites()
    {
        Assert.Equal("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", Peft.A(Module));
        Assert.Equal("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", Peft.B(Module));
        using var file = SafetensorsFile.Open(Path.Combine(Fixture.Adapter, PeftAdapter.WeightsFile));
        var modules = file.Names.Select(n => Peft.TryParseA(n, out var m) ? m : null).OfType<string>().ToList();
        Assert.Equal(file.Names.Count / 2, modules.Count);
        Assert.Equal(file.Names.Order(StringComparer.Ordinal),
            modules.SelectMany(m => new[] { Peft.A(m), Peft.B(m) }).Order(StringComparer.Ordinal));
        Assert.All(file.Names.Where(Peft.IsB), b => Assert.Contains(Peft.AOfB(b), file.Names));
    }

    [Theory]
    [InlineData("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")]
    [InlineData("model.layers.0.self_attn.q_proj.lora_A.weight")]
    [InlineData("base_model.model.lora_A.weight")]
    public void TryParseARejectsOtherNames(string name) => Assert.False(Peft.TryParseA(name, out _));

    [Fact]
    public void AdapterNameIsDroppedFromSavedKeys() =>
        Assert.Equal(Peft.B(Module), Peft.WithoutAdapterName("base_model.model." + Module + ".lora_B.default.weight"));

    [Theory]
    [InlineData(8.0, 4, false, 2.0)] // the fixture: alpha 8, r 4
    [InlineData(8.0, 4, true, 4.0)]  // rsLoRA: 8 / √4
    [InlineData(32.0, 16, false, 2.0)]
    public void ScalingIsAlphaOverRankOrOverSqrtRank(double alpha, int rank, bool rsLora, double expected) =>
        Assert.Equal(expected, Peft.Scaling(alpha, rank, rsLora));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FoldTargetsAndSettingsShareOneScaling(bool rsLora)
    {
        var loaded = PeftAdapter.Load(fx.AdapterDir);
        var adapter = new PeftAdapter { Settings = loaded.Settings with { UseRsLora = rsLora }, Tensors = loaded.Tensors };
        var graph = ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")).Graph;
        var targets = AdapterTargets.Resolve(graph, adapter, "fixture");
        double expected = Peft.Scaling(8, 4, rsLora);
        Assert.Equal(expected, adapter.Settings.Scaling);
        Assert.All(targets, t => Assert.Equal(expected, t.Scaling));
        var (_, injected) = LoraInjection.Run(ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")), adapter.Settings, training: false);
        Assert.All(injected, t => Assert.Equal(expected, t.Scaling));
    }

    [Fact]
    public void ConfigWithoutOptionalKeysMeansPeftDefaults()
    {
        var dir = fx.NewPath("sparse-config");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(fx.AdapterDir, PeftAdapter.WeightsFile), Path.Combine(dir, PeftAdapter.WeightsFile));
        File.WriteAllText(Path.Combine(dir, PeftAdapter.ConfigFile), new JsonObject { ["peft_type"] = "LORA" }.ToJsonString());
        var s = PeftAdapter.Load(dir).Settings;
        // PEFT's LoraConfig dataclass: r=8, lora_alpha=8, lora_dropout=0.0, use_rslora=False; for Llama
        // without target_modules, PEFT's architecture table picks q_proj and v_proj.
        Assert.Equal((8, 8.0, 0.0, false), (s.Rank, s.Alpha, s.Dropout, s.UseRsLora));
        Assert.Equal(["q_proj", "v_proj"], s.TargetModules);
        Assert.Equal((Peft.ConfigFileRank, Peft.ConfigFileAlpha), (s.Rank, s.Alpha));
    }

    [Fact]
    public void StringTargetModulesIsARegexOverTheWholeModulePath()
    {
        // PEFT (check_target_module_exists): a str target_modules is re.fullmatch'ed against each module's full name; a list is
        // matched by suffix. "q_proj|v_proj" therefore selects nothing in PEFT (no module is named just that), while
        // ".*\.(q_proj|v_proj)" selects q and v of every layer.
        var dir = ConfigWith(".*\\.(q_proj|v_proj)");
        var loaded = PeftAdapter.Load(dir);
        Assert.Equal(".*\\.(q_proj|v_proj)", loaded.Settings.TargetRegex);
        Assert.Empty(loaded.Settings.TargetModules);
        var (_, targets) = LoraInjection.Run(ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")), loaded.Settings, training: false);
        Assert.Equal(4, targets.Count);
        Assert.All(targets, t => Assert.Matches(@"\.(q|v)_proj$", t.Module));
        var saved = fx.NewPath("saved-regex");
        PeftAdapter.Save(saved, loaded.Settings, loaded.Tensors.Select(kv => (kv.Key, kv.Value.Data, kv.Value.Shape)));
        Assert.Equal(".*\\.(q_proj|v_proj)", JsonNode.Parse(File.ReadAllText(Path.Combine(saved, PeftAdapter.ConfigFile)))!["target_modules"]!.GetValue<string>());

        var literal = PeftAdapter.Load(ConfigWith("q_proj|v_proj")).Settings;
        var e = Assert.Throws<RewriteException>(() => LoraInjection.Run(ModelReader.Load(Path.Combine(fx.BaseDir, "model.onnx")), literal, training: false));
        Assert.Contains("no linear layer matched the LoRA targets (/q_proj|v_proj/)", e.Message, StringComparison.Ordinal);
        Assert.Equal([TargetMatcher.AllLinear], PeftAdapter.Load(ConfigWith(TargetMatcher.AllLinear)).Settings.TargetModules);
    }

    [Fact]
    public void InvalidTargetRegexIsRejectedNamingTheConfigFile()
    {
        var e = Assert.Throws<Models.ModelFormatException>(() => PeftAdapter.Load(ConfigWith("(q_proj")));
        Assert.Contains(PeftAdapter.ConfigFile, e.Message, StringComparison.Ordinal);
        Assert.Contains("regex", e.Message, StringComparison.Ordinal);
    }

    private string ConfigWith(string targetModules)
    {
        var dir = fx.NewPath("regex-config");
        Directory.CreateDirectory(dir);
        File.Copy(Path.Combine(fx.AdapterDir, PeftAdapter.WeightsFile), Path.Combine(dir, PeftAdapter.WeightsFile));
        File.WriteAllText(Path.Combine(dir, PeftAdapter.ConfigFile),
            new JsonObject { ["peft_type"] = "LORA", ["r"] = 4, ["lora_alpha"] = 8, ["target_modules"] = targetModules }.ToJsonString());
        return dir;
    }

    [Fact]
    public void NewSettingsTakeTheProjectDefaults()
    {
        var s = new LoraSettings();
        Assert.Equal((16, 32.0, 0.0, false), (s.Rank, s.Alpha, s.Dropout, s.UseRsLora));
        Assert.Equal(Peft.DefaultTargets, s.TargetModules);
        Assert.Equal(2.0, s.Scaling);
    }
}
