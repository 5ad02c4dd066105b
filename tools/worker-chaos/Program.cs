// worker-chaos: N tiny training jobs on W `onnxlora serve` processes sharing one job store (SQLite file or a
// PostgreSQL schema), first uninterrupted (the twins and the time to beat), then again while K SIGKILLs land on
// workers in the middle of a job (each victim restarted at once). A kill is aimed only at a worker whose current job
// has made a step since that worker claimed it: a kill during start-up looks exactly like a job that crashes its
// worker at load, and the store rightly spends an attempt on that. It keeps aiming until K kills have landed, or says
// the jobs finished first. It prints jobs succeeded, lost and run twice at once (overlapping live claims), adapters
// byte-identical to the twins, one metrics row per step, event streams ending in the job's state, resume delay (kill →
// the job's next step) and the total time against the uninterrupted one. Exit 0 only if every check holds.
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Npgsql;
using OnnxLora.Models;
using OnnxLora.Models.Import;
using OnnxLora.Models.Tokenization;
using OnnxLora.Tools.WorkerChaos;
using OnnxLora.Training.Data;
using OnnxLora.Worker;
using OnnxLora.Worker.Jobs;
using OnnxLora.Worker.Store;

const string Usage = """
    usage: worker-chaos [--store sqlite|postgres] [--postgres CONN] [--workers W] [--jobs N] [--kills K] [--steps S]
                        [--save-every C] [--lease SECONDS] [--gap-ms MIN-MAX] [--seed X] [--work DIR] [--keep true]
      --store      sqlite (default: one file in the data folder) or postgres (a fresh schema in --postgres's database)
      --postgres   Npgsql connection string (default Host=127.0.0.1;Username=onnxlora;Password=onnxlora;Database=onnxlora_test)
      --workers    worker processes (default 1)        --jobs    jobs (default 10)      --kills  SIGKILLs that must land (default 20)
      --steps      optimizer steps per job (default 5000) --save-every  checkpoint period (default 10)
      --lease      lease seconds (default 10; heartbeat a third of it; it must outlast the worst heartbeat delay of the machine)
      --gap-ms     random pause between a victim's job making a step and the SIGKILL (default 1000-5000)
      --work       scratch folder (default a new temp folder; removed unless --keep true)

    Kills model crashes during work: each one waits until some worker's current job has made a step since that
    worker claimed it (read from the job row, the same rule the store settles an expired lease by), picks one such
    worker at random, pauses --gap-ms, and SIGKILLs it only if its job (the same or the next) is still past its
    claim's first step; otherwise it aims again. A kill while a worker is still starting (process start, session
    creation, before the claim's first step) cannot be told from a job that crashes its worker at load, and the
    store spends an attempt on those (MaxAttempts guards the host against such jobs), so the tool does not aim there.
    It keeps aiming until K kills have landed; if every job finishes first it says so and the run fails (raise
    --steps). Each victim is restarted at once under a new generation id (w1-g2, w1-g3, ...).
    """;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(Usage);
    return 0;
}
Args o;
try
{
    o = Args.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"worker-chaos: {e.Message}\n{Usage}");
    return 2;
}
var store = o.Get("store", "sqlite");
var pgBase = o.Get("postgres", "Host=127.0.0.1;Username=onnxlora;Password=onnxlora;Database=onnxlora_test");
int workers = int.Parse(o.Get("workers", "1")), jobs = int.Parse(o.Get("jobs", "10")), kills = int.Parse(o.Get("kills", "20"));
int steps = int.Parse(o.Get("steps", "5000")), saveEvery = int.Parse(o.Get("save-every", "10")), seed = int.Parse(o.Get("seed", "1"));
double lease = double.Parse(o.Get("lease", "10"), System.Globalization.CultureInfo.InvariantCulture);
var gap = o.Get("gap-ms", "1000-5000").Split('-').Select(int.Parse).ToArray();
bool keep = bool.Parse(o.Get("keep", "false"));
var work = o.Get("work", Path.Combine(Path.GetTempPath(), "worker-chaos-" + Guid.NewGuid().ToString("N")[..8]));
if (store is not ("sqlite" or "postgres") || workers < 1 || jobs < 1 || kills < 0 || steps < 1 || gap.Length != 2 || gap[0] > gap[1])
{
    Console.Error.WriteLine($"worker-chaos: bad option value\n{Usage}");
    return 2;
}

Directory.CreateDirectory(work);
var cliDll = Path.Combine(AppContext.BaseDirectory, "onnxlora.dll");
const string Key = "chaos-key";
const string Tenant = "chaos";
var schemas = new List<string>();
try
{
    var (modelRoot, datasetRoot) = World.Create(Path.Combine(work, "world"));
    Console.WriteLine($"worker-chaos: store {store}, {workers} worker(s), {jobs} jobs × {steps} steps (checkpoint every {saveEvery}), " +
        $"lease {lease} s, {kills} SIGKILLs each {gap[0]}-{gap[1]} ms after a step of the victim's job, seed {seed}; work {work}");

    var calm = await RunPhaseAsync("uninterrupted", 0);
    Console.WriteLine($"uninterrupted: {calm.Jobs.Count(j => j.State == JobStates.Succeeded)}/{jobs} succeeded in {calm.Seconds:F1} s");
    var chaos = await RunPhaseAsync("chaos", kills);
    var report = await Report.BuildAsync(calm, chaos, steps, kills);
    report.Print(Console.Out);
    return report.Ok ? 0 : 1;

    async Task<Phase> RunPhaseAsync(string name, int killCount)
    {
        var dataDir = Path.Combine(work, name);
        var logDir = Path.Combine(dataDir, "logs");
        Directory.CreateDirectory(logDir);
        string? cs = null;
        if (store == "postgres")
        {
            string schema = $"chaos_{name}_{Guid.NewGuid():N}"[..24];
            await using (var conn = new NpgsqlConnection(pgBase))
            {
                await conn.OpenAsync();
                await using var cmd = new NpgsqlCommand($"CREATE SCHEMA {schema}", conn);
                await cmd.ExecuteNonQueryAsync();
            }
            schemas.Add(schema);
            cs = new NpgsqlConnectionStringBuilder(pgBase) { SearchPath = schema }.ToString();
        }
        string[] workerArgs =
        [
            "--data-dir", dataDir, "--api-key", Tenant + "=" + ApiKeyHash.Of(Key),
            "--Worker:ModelRoots:0=" + modelRoot, "--Worker:DatasetRoots:0=" + datasetRoot,
            $"--Worker:LeaseSeconds={lease.ToString(System.Globalization.CultureInfo.InvariantCulture)}", "--Worker:PollSeconds=0.2",
            "--Logging:LogLevel:Default=Warning", .. cs is null ? Array.Empty<string>() : ["--postgres", cs],
        ];
        var live = Enumerable.Range(1, workers).Select(i => new ChaosWorker(i, 1, cliDll, workerArgs, logDir)).ToArray();
        var dead = new List<ChaosWorker>();
        await using IJobStore db = cs is null ? new SqliteJobStore(Path.Combine(dataDir, JobStoreFactory.SqliteFile)) : new PostgresJobStore(cs);
        try
        {
            await Task.WhenAll(live.Select(w => w.StartAsync()));
            var ids = new List<string>();
            var started = DateTime.UtcNow;
            for (int j = 0; j < jobs; j++)
            {
                using var http = Client(live[j % workers]);
                var spec = World.Spec(steps, saveEvery, seed: j + 1);
                var r = await http.PostAsync("/v1/jobs", new StringContent(spec, Encoding.UTF8, "application/json"));
                var body = await r.Content.ReadAsStringAsync();
                if (!r.IsSuccessStatusCode)
                {
                    throw new InvalidOperationException($"submit refused: {(int)r.StatusCode} {body}");
                }
                ids.Add(JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!);
            }
            var rng = new Random(seed);
            int killed = 0, reaims = 0;
            bool finishedFirst = false;
            while (killed < killCount)
            {
                // Aim: a worker whose current job has stepped since its claim; then a random pause; then it must still be so.
                var aimed = await WaitForWorkAsync(db, ids, live, rng);
                if (aimed is null)
                {
                    finishedFirst = true;
                    Console.WriteLine($"  every job finished after {killed} of {killCount} kills");
                    break;
                }
                int slot = aimed.Value;
                await Task.Delay(rng.Next(gap[0], gap[1] + 1));
                var victim = live[slot];
                if (JobInWork(await ListAsync(db, ids), victim.Id) is not { } job)
                {
                    reaims++;
                    continue;
                }
                victim.Kill();
                dead.Add(victim);
                killed++;
                Console.WriteLine($"  kill {killed}/{killCount}: {victim.Id} at {(DateTime.UtcNow - started).TotalSeconds:F1} s, " +
                    $"job {job.Id} at step {job.Step} ({job.Step - job.ClaimCheckpointStep} since its claim resumed at {job.ClaimCheckpointStep})");
                live[slot] = new ChaosWorker(slot + 1, victim.Generation + 1, cliDll, workerArgs, logDir);
                await live[slot].StartAsync();
            }
            if (reaims > 0)
            {
                Console.WriteLine($"  {reaims} aim(s) dropped: after the pause the victim had no job past its claim's first step (it ended or was handed back)");
            }
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(30);
            while (!await AllDoneAsync(db, ids))
            {
                if (DateTime.UtcNow > deadline)
                {
                    Console.Error.WriteLine("worker-chaos: jobs still unfinished after 30 minutes");
                    break;
                }
                await Task.Delay(250);
            }
            double seconds = (DateTime.UtcNow - started).TotalSeconds;
            var rows = new List<JobRecord?>();
            foreach (var id in ids)
            {
                rows.Add(await db.GetAsync(null, id, default));
            }
            var claims = (await db.ClaimsAsync(null, default)).Where(c => ids.Contains(c.JobId)).ToList();
            var events = new Dictionary<string, IReadOnlyList<JobEvent>>();
            foreach (var id in ids)
            {
                events[id] = await db.ReadEventsAsync(id, 0, int.MaxValue, default);
            }
            return new Phase(dataDir, ids, rows.Where(r => r is not null).Select(r => r!).ToList(), claims, events, dead, killed, finishedFirst, seconds);
        }
        finally
        {
            foreach (var w in live)
            {
                w.Dispose();
            }
            foreach (var w in dead)
            {
                w.Dispose();
            }
        }
    }
}
finally
{
    foreach (var schema in schemas.Where(_ => !keep))
    {
        await using var conn = new NpgsqlConnection(pgBase);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"DROP SCHEMA {schema} CASCADE", conn);
        await cmd.ExecuteNonQueryAsync();
    }
    if (!keep)
    {
        NpgsqlConnection.ClearAllPools();
        try
        {
            Directory.Delete(work, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

static HttpClient Client(ChaosWorker w)
{
    var c = new HttpClient { BaseAddress = w.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
    return c;
}

static async Task<bool> AllDoneAsync(IJobStore db, List<string> ids)
{
    foreach (var id in ids)
    {
        if (await db.GetAsync(null, id, default) is not { } j || !JobStates.IsTerminal(j.State))
        {
            return false;
        }
    }
    return true;
}

static async Task<List<JobRecord>> ListAsync(IJobStore db, List<string> ids) =>
    (await db.ListAsync(Tenant, null, ids.Count + 100, default)).Where(j => ids.Contains(j.Id)).ToList();

// The job a worker runs that has made a step since this worker claimed it (the claim resets step to the checkpoint
// it resumes from), or null: then a kill would be settled as an attempt without progress.
static JobRecord? JobInWork(IReadOnlyList<JobRecord> rows, string workerId) =>
    rows.FirstOrDefault(j => j.State == JobStates.Running && j.LeaseOwner == workerId && j.Step > j.ClaimCheckpointStep);

// Polls the job rows until some live worker has a job in work and picks one of those workers at random; null once
// every job has finished.
static async Task<int?> WaitForWorkAsync(IJobStore db, List<string> ids, ChaosWorker[] live, Random rng)
{
    while (true)
    {
        var rows = await ListAsync(db, ids);
        if (rows.Count == ids.Count && rows.All(j => JobStates.IsTerminal(j.State)))
        {
            return null;
        }
        var slots = Enumerable.Range(0, live.Length).Where(s => JobInWork(rows, live[s].Id) is not null).ToList();
        if (slots.Count > 0)
        {
            return slots[rng.Next(slots.Count)];
        }
        await Task.Delay(100);
    }
}
