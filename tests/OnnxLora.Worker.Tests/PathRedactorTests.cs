// What a tenant reads in job errors and events: server paths under the data folder, the job folder and the
// model/dataset roots become relative names; other absolute paths keep only their last segment.
using OnnxLora.Worker.Execution;

namespace OnnxLora.Worker.Tests;

public sealed class PathRedactorTests
{
    private static PathRedactor For(TempDir dir, out string jobDir)
    {
        var o = new WorkerOptions
        {
            DataDir = dir["data"],
            ModelRoots = [dir["models"]],
            DatasetRoots = [dir["datasets"]],
        };
        var folders = JobFolders.For(o, "job1");
        jobDir = folders.JobDir;
        return new PathRedactor(o, folders);
    }

    [Fact]
    public void PathsUnderTheRootsBecomeRelativeNames()
    {
        using var dir = new TempDir();
        var r = For(dir, out var jobDir);
        Assert.Equal("checkpoint: run/checkpoints/step-00000010", r.Redact($"checkpoint: {jobDir}/run/checkpoints/step-00000010"));
        Assert.Equal("ModelFormatException: tiny/model.onnx: bad graph", r.Redact($"ModelFormatException: {dir["models"]}/tiny/model.onnx: bad graph"));
        Assert.Equal("'pirate.jsonl' line 3: not JSON", r.Redact($"'{dir["datasets"]}/pirate.jsonl' line 3: not JSON"));
    }

    [Fact]
    public void OtherAbsolutePathsKeepOnlyTheirFileName()
    {
        using var dir = new TempDir();
        var r = For(dir, out _);
        string text = r.Redact("DllNotFoundException: /usr/lib/x86_64-linux-gnu/libcudart.so.13: cannot open (see http://example.org/a/b)");
        Assert.Equal("DllNotFoundException: …/libcudart.so.13: cannot open (see http://example.org/a/b)", text);
        Assert.DoesNotContain(dir.Path, r.Redact($"{dir.Path}/elsewhere/file.txt"));
        Assert.Equal("…/database.txt", r.Redact($"{dir.Path}/database.txt")); // not the data root plus "base.txt"
    }
}
