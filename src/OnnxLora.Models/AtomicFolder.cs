// Publishing a folder in one step: build it under a temp name beside the target, then rename.
// An existing target is moved aside first, moved back if the new one cannot take its place, and
// deleted only after the new one is in place. Model folders go through GenAiFolder.Publish.
namespace OnnxLora.Models;

public static class AtomicFolder
{
    public static void Replace(string builtTemp, string target)
    {
        string? old = null;
        if (Directory.Exists(target))
        {
            old = target + ".old-" + Guid.NewGuid().ToString("N")[..8];
            Directory.Move(target, old);
        }
        else if (File.Exists(target))
        {
            throw new IOException($"{target}: exists and is a file, not a folder");
        }
        try
        {
            Directory.Move(builtTemp, target);
        }
        catch when (old is not null)
        {
            Directory.Move(old, target);
            throw;
        }
        if (old is not null)
        {
            TryDelete(old);
        }
    }

    /// <summary>A fresh temp folder beside <paramref name="target"/> (same file system, so the rename is atomic).</summary>
    public static string CreateTempBeside(string target)
    {
        var full = Path.GetFullPath(target);
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        return temp;
    }

    public static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
