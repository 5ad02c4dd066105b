// The checks and figures of a chaos run against its uninterrupted twin run: succeeded/failed/lost jobs, jobs run
// twice at once (a claim that began before the previous claim of the same job had ended or its lease run out, or
// a training step a worker made after another worker had claimed the same job, from the progress events),
// byte-identical adapters, one metrics row per step, event streams ending in the job's state, crash-resumes and
// attempts, resume delay (SIGKILL → the job's next progress or final state event) and total time. Kills: how many of
// those requested landed, and whether each interrupted a job in work (settled as a crash-resume) or one still
// starting (settled without progress: an attempt spent). Fewer landed than requested fails the run.
using System.Text.Json;
using OnnxLora.Worker.Jobs;

namespace OnnxLora.Tools.WorkerChaos;

internal sealed record Report(int Jobs, int Succeeded, int Failed, int Lost, int Overlaps, int StepsAfterTakeover, int Identical, int OneRowPerStep,
    int EventsEndTerminal, int Kills, int RequestedKills, bool FinishedFirst, int KillsOnRunningJobs, int KillsDuringWork,
    int KillsDuringStartup, int LapsedUnderLiveWorkers, int CrashResumes, int ExpiredWithoutProgress, int MaxAttemptsUsed,
    IReadOnlyList<double> ResumeDelays,
    double CalmSeconds, double ChaosSeconds, IReadOnlyList<string> Problems)
{
    public bool Ok => Kills == RequestedKills && Succeeded == Jobs && Lost == 0 && Overlaps == 0 && StepsAfterTakeover == 0 && Identical == Jobs && OneRowPerStep == Jobs && EventsEndTerminal == Jobs;

    public static Task<Report> BuildAsync(Phase calm, Phase chaos, int steps, int requestedKills)
    {
        var problems = new List<string>();
        int n = chaos.Ids.Count;
        var byId = chaos.Jobs.ToDictionary(j => j.Id);
        int succeeded = chaos.Jobs.Count(j => j.State == JobStates.Succeeded);
        int failed = chaos.Jobs.Count(j => j.State == JobStates.Failed);
        int lost = chaos.Ids.Count(id => !byId.TryGetValue(id, out var j) || !JobStates.IsTerminal(j.State));
        foreach (var j in chaos.Jobs.Where(j => j.State != JobStates.Succeeded))
        {
            problems.Add($"job {j.Id}: {j.State} {j.Error}");
        }

        int overlaps = 0;
        foreach (var group in chaos.Claims.GroupBy(c => c.JobId))
        {
            var list = group.OrderBy(c => c.ClaimNo).ToList();
            for (int i = 1; i < list.Count; i++)
            {
                long previousEnd = list[i - 1].EndedMs ?? list[i - 1].LeaseUntilMs;
                if (list[i].ClaimedMs < previousEnd)
                {
                    overlaps++;
                    problems.Add($"job {group.Key}: claim {list[i].ClaimNo} by {list[i].Worker} began {previousEnd - list[i].ClaimedMs} ms before claim {list[i - 1].ClaimNo} ended");
                }
            }
        }

        int afterTakeover = 0;
        foreach (var (id, events) in chaos.Events)
        {
            var claims = chaos.Claims.Where(c => c.JobId == id).OrderBy(c => c.ClaimNo).ToList();
            foreach (var e in events.Where(e => e.Kind == "progress"))
            {
                var p = JsonDocument.Parse(e.Data).RootElement;
                string worker = p.GetProperty("worker").GetString()!;
                long at = p.GetProperty("at_ms").GetInt64();
                var own = claims.LastOrDefault(c => c.Worker == worker && c.ClaimedMs <= at);
                if (own is not null && claims.Any(c => c.ClaimNo > own.ClaimNo && c.ClaimedMs <= at))
                {
                    afterTakeover++;
                    problems.Add($"job {id}: {worker} made step {p.GetProperty("step").GetInt32()} after another worker had claimed the job");
                }
            }
        }

        int identical = 0, oneRow = 0, endsTerminal = 0;
        for (int k = 0; k < n; k++)
        {
            string id = chaos.Ids[k];
            var twin = calm.Artifact(calm.Ids[k], "adapter.safetensors");
            var mine = chaos.Artifact(id, "adapter.safetensors");
            if (File.Exists(twin) && File.Exists(mine) && File.ReadAllBytes(twin).AsSpan().SequenceEqual(File.ReadAllBytes(mine)))
            {
                identical++;
            }
            else
            {
                problems.Add($"job {id}: adapter differs from its uninterrupted twin (or is missing)");
            }
            var metrics = chaos.Artifact(id, "metrics.jsonl");
            var rows = File.Exists(metrics)
                ? File.ReadLines(metrics).Select(l => JsonDocument.Parse(l).RootElement).Where(r => r.TryGetProperty("loss", out _))
                    .Select(r => r.GetProperty("step").GetInt32()).ToList()
                : [];
            if (rows.SequenceEqual(Enumerable.Range(1, steps)))
            {
                oneRow++;
            }
            else
            {
                problems.Add($"job {id}: metrics has {rows.Count} step rows for {steps} steps ({rows.Count - rows.Distinct().Count()} duplicates)");
            }
            var lastState = chaos.Events[id].LastOrDefault(e => e.Kind == "state");
            string? eventState = lastState is null ? null : JsonDocument.Parse(lastState.Data).RootElement.GetProperty("state").GetString();
            if (byId.TryGetValue(id, out var row) && JobStates.IsTerminal(row.State) && eventState == row.State)
            {
                endsTerminal++;
            }
            else
            {
                problems.Add($"job {id}: last state event '{eventState}', row state '{row?.State}'");
            }
        }

        var delays = new List<double>();
        int onRunning = 0, duringWork = 0, duringStartup = 0;
        foreach (var victim in chaos.Killed)
        {
            var interrupted = chaos.Claims.Where(c => c.Worker == victim.Id && c.ClaimedMs <= victim.KilledMs
                && c.Outcome is { } outcome && outcome.StartsWith("expired", StringComparison.Ordinal)).ToList();
            onRunning += interrupted.Count > 0 ? 1 : 0;
            duringWork += interrupted.Any(c => c.Outcome == "expired-resume") ? 1 : 0;
            duringStartup += interrupted.Any(c => c.Outcome != "expired-resume") ? 1 : 0; // its job ended in the instant before the kill
            foreach (var c in interrupted)
            {
                var next = chaos.Events[c.JobId].FirstOrDefault(e => e.CreatedMs > victim.KilledMs
                    && (e.Kind == "progress" || (e.Kind == "state" && JobStates.IsTerminal(JsonDocument.Parse(e.Data).RootElement.GetProperty("state").GetString()!))));
                if (next is not null)
                {
                    delays.Add((next.CreatedMs - victim.KilledMs!.Value) / 1000.0);
                }
            }
        }
        // Leases that ran out under a worker no one killed: it lost touch with the store while alive.
        var killedIds = chaos.Killed.Select(k => k.Id).ToHashSet();
        int lapsed = chaos.Claims.Count(c => c.Outcome is { } o && o.StartsWith("expired", StringComparison.Ordinal) && !killedIds.Contains(c.Worker));
        if (chaos.Kills < requestedKills)
        {
            problems.Add($"only {chaos.Kills} of {requestedKills} SIGKILLs landed: " +
                (chaos.FinishedFirst ? "every job finished first (give the jobs more --steps or a shorter --gap-ms)" : "the run stopped early"));
        }
        return Task.FromResult(new Report(n, succeeded, failed, lost, overlaps, afterTakeover, identical, oneRow, endsTerminal, chaos.Kills,
            requestedKills, chaos.FinishedFirst, onRunning, duringWork, duringStartup, lapsed,
            chaos.Jobs.Sum(j => j.CrashResumes), chaos.Claims.Count(c => c.Outcome is "expired-retry" or "expired-failed"),
            chaos.Jobs.Count == 0 ? 0 : chaos.Jobs.Max(j => j.Attempts), delays,
            calm.Seconds, chaos.Seconds, problems));
    }

    public void Print(TextWriter w)
    {
        var d = ResumeDelays.Order().ToList();
        string delay = d.Count == 0 ? "n/a (no kill interrupted a job)"
            : $"median {d[d.Count / 2]:F1} s, max {d[^1]:F1} s (n={d.Count})";
        w.WriteLine($"SIGKILLs landed:              {Kills} / {RequestedKills}{(FinishedFirst ? " (every job finished first)" : "")}; " +
            $"{KillsOnRunningJobs} interrupted a claim: {KillsDuringWork} a job in work (crash-resume), {KillsDuringStartup} a claim before its first step (attempt spent)");
        w.WriteLine($"jobs succeeded:               {Succeeded} / {Jobs} (failed {Failed}, lost {Lost})");
        w.WriteLine($"run twice at once:            {Overlaps} claims overlapping a live claim of the same job; " +
            $"{StepsAfterTakeover} steps made by a worker after another had claimed its job");
        w.WriteLine($"adapters byte-identical:      {Identical} / {Jobs} (to the uninterrupted twins)");
        w.WriteLine($"metrics one row per step:     {OneRowPerStep} / {Jobs}");
        w.WriteLine($"event streams end in state:   {EventsEndTerminal} / {Jobs}");
        w.WriteLine($"interrupted claims:           {CrashResumes} crash-resumes (after a step or a new checkpoint; no attempt spent), " +
            $"{ExpiredWithoutProgress} before the claim's first step (attempt spent); attempts used: at most {MaxAttemptsUsed}");
        w.WriteLine($"leases lapsed, worker alive:  {LapsedUnderLiveWorkers} (expired claims of workers that were never SIGKILLed)");
        w.WriteLine($"resume delay (kill → step):   {delay}");
        w.WriteLine($"total time:                   {ChaosSeconds:F1} s vs {CalmSeconds:F1} s uninterrupted (×{ChaosSeconds / CalmSeconds:F2})");
        foreach (var p in Problems)
        {
            w.WriteLine($"  problem: {p}");
        }
        w.WriteLine(Ok ? "RESULT ok" : "RESULT FAILED");
    }
}
