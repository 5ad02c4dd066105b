// Resolves a model or dataset path from a job spec strictly inside configured roots: '..' segments,
// absolute paths outside every root and symbolic links that lead out of the root are refused with a reason.
// Links are followed component by component (as realpath does), so a link anywhere in the path counts.
namespace OnnxLora.Worker.Spec;

public static class PathRoots
{
    private const int MaxLinkHops = 40;

    /// <summary>The real path of <paramref name="input"/> under one of <paramref name="roots"/>; throws JobSpecException otherwise.</summary>
    public static string Resolve(string? input, IReadOnlyList<string> roots, string field)
    {
        if (string.IsNullOrWhiteSpace(input))
        {
            throw new JobSpecException(field, $"{field} is required");
        }
        if (input.Contains('\0'))
        {
            throw new JobSpecException(field, $"{field} contains a NUL character");
        }
        if (input.Split('/', '\\').Any(s => s == ".."))
        {
            throw new JobSpecException(field, $"{field} must not contain '..' segments");
        }
        var realRoots = roots.Select(r => RealPath(Path.GetFullPath(r))).ToList();
        if (Path.IsPathRooted(input))
        {
            var full = Path.GetFullPath(input);
            if (!realRoots.Any(r => IsUnder(full, r)) && !roots.Any(r => IsUnder(full, Path.GetFullPath(r))))
            {
                throw new JobSpecException(field, $"{field} is an absolute path outside the allowed roots");
            }
            return Check(full, realRoots, field);
        }
        foreach (var root in roots)
        {
            var candidate = Path.GetFullPath(Path.Combine(root, input));
            if (File.Exists(candidate) || Directory.Exists(candidate))
            {
                return Check(candidate, realRoots, field);
            }
        }
        throw new JobSpecException(field, $"{field} '{ErrorText.Quote(input)}' was not found under the allowed roots");
    }

    /// <summary>How a tenant names a resolved path: relative to the root it lies under, else its last segment.</summary>
    public static string NameUnder(string path, IReadOnlyList<string> roots)
    {
        foreach (var root in roots.Select(r => RealPath(Path.GetFullPath(r))))
        {
            if (IsUnder(path, root) && path.Length > Path.TrimEndingDirectorySeparator(root).Length)
            {
                return Path.GetRelativePath(root, path);
            }
        }
        return Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
    }

    private static string Check(string candidate, IReadOnlyList<string> realRoots, string field)
    {
        if (!File.Exists(candidate) && !Directory.Exists(candidate))
        {
            throw new JobSpecException(field, $"{field} was not found under the allowed roots");
        }
        var real = RealPath(candidate);
        if (!realRoots.Any(r => IsUnder(real, r)))
        {
            throw new JobSpecException(field, $"{field} leads outside the allowed roots through a symbolic link");
        }
        return real;
    }

    private static bool IsUnder(string path, string root)
    {
        var r = Path.TrimEndingDirectorySeparator(root);
        return path == r || path.StartsWith(r + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    /// <summary>The path with every symbolic link in it resolved.</summary>
    public static string RealPath(string path)
    {
        int hops = 0;
        return Walk(Path.GetFullPath(path), ref hops);
    }

    private static string Walk(string full, ref int hops)
    {
        var root = Path.GetPathRoot(full)!;
        string current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(current, part);
            var target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > MaxLinkHops)
            {
                throw new IOException($"{full}: too many levels of symbolic links");
            }
            current = Walk(Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target)), ref hops);
        }
        return current;
    }
}
