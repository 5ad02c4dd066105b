// Where a job's files live under the data folder: jobs/{id}/run (the trainer's run folder, checkpoints
// included, so any worker sharing the folder can resume it) and jobs/{id}/artifacts (published results).
namespace OnnxLora.Worker.Execution;

public sealed record JobFolders(string JobDir)
{
    public static JobFolders For(WorkerOptions o, string jobId) => new(Path.Combine(o.JobsDir, jobId));

    public string RunDir => Path.Combine(JobDir, "run");

    public string ArtifactsDir => Path.Combine(JobDir, "artifacts");

    public string MergeDir => Path.Combine(JobDir, "merged");
}
