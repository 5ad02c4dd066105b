// PEFT's rule for which modules get LoRA (peft.tuners.tuners_utils.check_target_module_exists), applied
// to HF module paths from LinearDiscovery: a list of names matches a module whose path equals one or ends
// in "." + it; a single regex string must match the whole path (re.fullmatch); "all-linear" is every linear
// but the LM head. layers_to_transform keeps modules of those layer indices. It does not read the graph.
using System.Text.RegularExpressions;
using OnnxLora.Onnx;

namespace OnnxLora.Rewrite.Lora;

public sealed class TargetMatcher
{
    public const string AllLinear = "all-linear";

    private readonly LoraSettings _s;
    private readonly Regex? _regex;
    private readonly bool _allLinear;

    public TargetMatcher(LoraSettings s)
    {
        _s = s;
        _allLinear = s.TargetRegex is null && s.TargetModules is [AllLinear];
        if (s.TargetRegex is { } pattern)
        {
            try
            {
                // Anchored both ends: Python's re.fullmatch.
                _regex = new Regex(@"\A(?:" + pattern + @")\z", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
            }
            catch (ArgumentException e)
            {
                throw new BadInputException($"lora target regex '{pattern}' is invalid: {e.Message}");
            }
        }
    }

    public bool IsTarget(string module) => Named(module) && InLayers(module);

    /// <summary>
    /// Checks that every listed target name matches at least one of <paramref name="modules"/> (a typo such as
    /// "qkv_proj" on a model whose q/k/v are separate fails here, naming the entry and what the model has).
    /// </summary>
    public void CheckEachNameMatches(IReadOnlyList<string> modules)
    {
        if (_regex is not null || _allLinear)
        {
            return;
        }
        foreach (var t in _s.TargetModules)
        {
            if (!modules.Any(m => Suffix(m, t)))
            {
                var leaves = modules.Select(ModulePaths.Leaf).Distinct().Order(StringComparer.Ordinal);
                throw new BadInputException($"unknown LoRA target module '{t}': no linear layer of this model is named so (it has: {string.Join(", ", leaves)})");
            }
        }
    }

    private bool Named(string module)
    {
        if (_regex is not null)
        {
            return _regex.IsMatch(module);
        }
        if (_allLinear)
        {
            return module != "lm_head";
        }
        return _s.TargetModules.Any(t => Suffix(module, t));
    }

    private static bool Suffix(string module, string target) =>
        module == target || module.EndsWith("." + target, StringComparison.Ordinal);

    private bool InLayers(string module) =>
        _s.Layers is null || (ModulePaths.LayerOf(module) is { } layer && _s.Layers.Contains(layer));
}
