// Keeps server paths out of what a tenant reads (job errors, log events): the job's own folder, the data folder
// and the model and dataset roots are cut from paths, so "/srv/onnxlora/models/tiny/model.onnx" reads
// "tiny/model.onnx"; any other absolute path keeps only its file name ("…/libfoo.so").
using System.Text.RegularExpressions;

namespace OnnxLora.Worker.Execution;

public sealed partial class PathRedactor
{
    private readonly List<string> _prefixes;

    public PathRedactor(WorkerOptions options, JobFolders folders)
    {
        IEnumerable<string> roots = [folders.JobDir, .. options.EffectiveModelRoots, .. options.EffectiveDatasetRoots, options.DataDir];
        _prefixes = roots
            .SelectMany(r => new[] { Path.GetFullPath(r), Spec.PathRoots.RealPath(Path.GetFullPath(r)) })
            .Select(r => Path.TrimEndingDirectorySeparator(r) + Path.DirectorySeparatorChar)
            .Where(r => r.Length > 1)
            .Distinct()
            .OrderByDescending(r => r.Length)
            .ToList();
    }

    public string Redact(string text)
    {
        foreach (var prefix in _prefixes)
        {
            text = text.Replace(prefix, "", StringComparison.Ordinal);
            // the root itself, not a longer name that starts like it ("/data" in "/database")
            text = Regex.Replace(text, Regex.Escape(prefix.TrimEnd(Path.DirectorySeparatorChar)) + @"(?![\w.\-])", ".");
        }
        return OtherAbsolutePath().Replace(text, "…/");
    }

    // A run of "/dir" segments that starts a path (not inside a URL or a relative path) and is followed by one more segment.
    [GeneratedRegex(@"(?<![\w.:/…-])(/[^\s/'""`,;:()\[\]]+)+/(?=[^\s/])")]
    private static partial Regex OtherAbsolutePath();
}
