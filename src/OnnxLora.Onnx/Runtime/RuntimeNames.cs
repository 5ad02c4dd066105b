// The text form of the runtime enums: snake_case of the member name ("cpu", "cuda", "same_as_requested"),
// the same rule System.Text.Json's SnakeCaseLower enum converter writes into config.json, so a value
// read from YAML, a flag or a job spec round-trips through the run folder unchanged.
// It parses and prints only; callers turn a failed parse into their own one-line error naming the key.
using System.Text.Json;

namespace OnnxLora.Onnx.Runtime;

public static class RuntimeNames
{
    /// <summary>"cpu", "cuda", "same_as_requested", …</summary>
    public static string Of<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>Every accepted name of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> All<T>() where T : struct, Enum => Enum.GetValues<T>().Select(Of).ToList();

    /// <summary>Exact (case-sensitive) match against <see cref="All{T}"/>.</summary>
    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        foreach (var v in Enum.GetValues<T>())
        {
            if (string.Equals(Of(v), text, StringComparison.Ordinal))
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>Parses or throws an <see cref="ArgumentException"/> "<paramref name="name"/> 'x' is unknown (expected a, b)".</summary>
    public static T Parse<T>(string? text, string name) where T : struct, Enum =>
        TryParse<T>(text, out var v) ? v : throw new BadInputException(Unknown<T>(text, name));

    /// <summary>The one-line message for a value that is not a name of <typeparamref name="T"/>.</summary>
    public static string Unknown<T>(string? text, string name) where T : struct, Enum =>
        $"{name} '{text}' is unknown (expected {string.Join(", ", All<T>())})";
}
