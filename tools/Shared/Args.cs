// "--name value" command-line options of the tools (bench-train, activation-memory); linked into each
// tool's project. A word that is not "--name" followed by a value is an error naming it.
internal sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value, got '{args[i]}'");
            }
            d[args[i][2..]] = args[++i];
        }
        return new Args(d);
    }

    public string Get(string name, string fallback) => values.TryGetValue(name, out var v) ? v : fallback;
}
