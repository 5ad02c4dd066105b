// Locates the repository root (the folder holding OnnxLora.sln) and the shared fixtures next to it.
namespace OnnxLora.Inference.Tests;

public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Fixtures { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures"));

    public static string TinyLlama => Path.Combine(Fixtures, "tiny-llama");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OnnxLora.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No OnnxLora.sln above {AppContext.BaseDirectory}");
    }
}
