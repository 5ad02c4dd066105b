// Locates the repository root (the folder holding OnnxLora.sln) from the test binary's
// directory, and the shared fixtures folder beside it. It does not create or download anything.
namespace OnnxLora.Testing;

public static class TestPaths
{
    private const string SolutionFileName = "OnnxLora.sln";

    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    /// <summary>The folder containing OnnxLora.sln.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>../shared/fixtures relative to the repository root.</summary>
    public static string Fixtures => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures"));

    private static string FindRepoRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, SolutionFileName)))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no {SolutionFileName} above {AppContext.BaseDirectory}");
    }
}
