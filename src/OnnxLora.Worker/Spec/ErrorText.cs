// Keeps error answers short whatever a client sent: input quoted in a message is cut to MaxQuoted characters,
// and a whole message to MaxMessage, with the number of characters left out said at the cut.
namespace OnnxLora.Worker.Spec;

public static class ErrorText
{
    public const int MaxQuoted = 200;
    public const int MaxMessage = 300;

    /// <summary><paramref name="input"/> as an error message may quote it: at most <see cref="MaxQuoted"/> characters.</summary>
    public static string Quote(string? input) => Cut(input ?? "", MaxQuoted);

    /// <summary>A whole message (or a field name) cut to <see cref="MaxMessage"/> characters.</summary>
    public static string Clip(string message) => Cut(message, MaxMessage);

    private static string Cut(string s, int max) => s.Length <= max ? s : $"{s[..max]}… ({s.Length - max} more characters)";
}
