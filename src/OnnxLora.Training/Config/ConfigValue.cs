// One value read from a config file or flag: a scalar (null for YAML ~/null), a list of scalars, or a mapping of
// string keys to scalars (runtime.session_config), and where it came from ("train.yaml:7", "train.json", "--lr")
// for error messages.
namespace OnnxLora.Training.Config;

internal sealed record ConfigValue(string? Scalar, IReadOnlyList<string>? List, string Location, IReadOnlyList<KeyValuePair<string, string?>>? Map = null)
{
    public bool IsNull => Scalar is null && List is null && Map is null;
}
