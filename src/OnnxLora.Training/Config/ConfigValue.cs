// One value read from a config file or flag: a scalar (null for YAML ~/null) or a list of scalars, and where it
// came from ("train.yaml:7", "train.json", "--lr") for error messages.
namespace OnnxLora.Training.Config;

internal sealed record ConfigValue(string? Scalar, IReadOnlyList<string>? List, string Location)
{
    public bool IsNull => Scalar is null && List is null;
}
