// What one run of the jobs left behind: its data folder, the job ids in seed order, their rows, claims and
// events from the store, the worker processes it SIGKILLed (with the moment), whether the jobs finished before every
// requested kill had landed, and its wall time.
using OnnxLora.Worker.Jobs;

namespace OnnxLora.Tools.WorkerChaos;

internal sealed record Phase(string DataDir, IReadOnlyList<string> Ids, IReadOnlyList<JobRecord> Jobs, IReadOnlyList<ClaimRecord> Claims,
    IReadOnlyDictionary<string, IReadOnlyList<JobEvent>> Events, IReadOnlyList<ChaosWorker> Killed, int Kills, bool FinishedFirst, double Seconds)
{
    public string Artifact(string id, string file) => Path.Combine(DataDir, "jobs", id, "artifacts", file);
}
