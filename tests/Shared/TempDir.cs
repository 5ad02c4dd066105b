// A temp folder deleted when the test ends, or (ForProcess) one shared by a test process's fixtures and deleted
// when that process exits, so a test run leaves nothing under /tmp.
namespace OnnxLora.Testing;

public sealed class TempDir : IDisposable
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> s_processFolders = new(StringComparer.Ordinal);

    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "onnxlora-test-" + Guid.NewGuid().ToString("N")[..12]);

    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>
    /// The path of a folder named <paramref name="prefix"/>-&lt;process id&gt; under the temp folder (not created),
    /// deleted with everything in it when this process exits.
    /// </summary>
    public static string ForProcess(string prefix)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Environment.ProcessId}");
        if (s_processFolders.TryAdd(path, 0))
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Delete(path);
        }
        return path;
    }

    public void Dispose() => Delete(Path);

    private static void Delete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
