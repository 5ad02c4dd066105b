// worker-chaos: N tiny training jobs on W `onnxlora serve` processes sharing one job store (SQLite file or a
// PostgreSQL schema), first uninterrupted (the twins and the time to beat), then again while K SIGKILLs land on
// random workers at random moments, each victim restarted at once. It prints jobs succeeded, lost and run twice
// at once (overlapping live claims), adapters byte-identical to the twins, one metrics row per step, event
// streams ending in the job's state, resume delay (kill → the job's next step) and the total time against the
// uninterrupted one. Exit 0 only if every check holds. Timings are as measured on whatever else the machine runs.
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
      --workers    worker processes (default 1)        --jobs    jobs (default 10)      --kills  SIGKILLs (default 20)
      --steps      optimizer steps per job (default 600) --save-every  checkpoint period (default 10)
      --lease      lease seconds (default 10; heartbeat a third of it; it must outlast the worst heartbeat delay of the machine)   --gap-ms  pause before each kill, after the last victim is back up (default 3000-12000)
      --work       scratch folder (default a new temp folder; removed unless --keep true)
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
int steps = int.Parse(o.Get("steps", "600")), saveEvery = int.Parse(o.Get("save-every", "10")), seed = int.Parse(o.Get("seed", "1"));
double lease = double.Parse(o.Get("lease", "10"), System.Globalization.CultureInfo.InvariantCulture);
var gap = o.Get("gap-ms", "3000-12000").Split('-').Select(int.Parse).ToArray();
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
var schemas = new List<string>();
try
{
    var (modelRoot, datasetRoot) = World.Create(Path.Combine(work, "world"));
    Console.WriteLine($"worker-chaos: store {store}, {workers} worker(s), {jobs} jobs × {steps} steps (checkpoint every {saveEvery}), " +
        $"lease {lease} s, {kills} SIGKILLs {gap[0]}-{gap[1]} ms apart, seed {seed}; work {work}");

    var calm = await RunPhaseAsync("uninterrupted", 0);
    Console.WriteLine($"uninterrupted: {calm.Jobs.Count(j => j.State == JobStates.Succeeded)}/{jobs} succeeded in {calm.Seconds:F1} s");
    var chaos = await RunPhaseAsync("chaos", kills);
    var report = await Report.BuildAsync(calm, chaos, steps);
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
            "--data-dir", dataDir, "--api-key", "chaos=" + ApiKeyHash.Of(Key),
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
            int killed = 0;
            while (killed < killCount && !await AllDoneAsync(db, ids))
            {
                await Task.Delay(rng.Next(gap[0], gap[1] + 1));
                if (await AllDoneAsync(db, ids))
                {
                    break;
                }
                int slot = rng.Next(workers);
                var victim = live[slot];
                victim.Kill();
                dead.Add(victim);
                killed++;
                Console.WriteLine($"  kill {killed}/{killCount}: {victim.Id} at {(DateTime.UtcNow - started).TotalSeconds:F1} s");
                live[slot] = new ChaosWorker(slot + 1, victim.Generation + 1, cliDll, workerArgs, logDir);
                await live[slot].StartAsync();
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
            return new Phase(dataDir, ids, rows.Where(r => r is not null).Select(r => r!).ToList(), claims, events, dead, killed, seconds);
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
