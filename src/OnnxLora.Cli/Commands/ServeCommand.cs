// `onnxlora serve`: the worker service (HTTP API + job runner) on the embedded default, a SQLite job store
// in the data folder, or on PostgreSQL for many workers. Any Worker:* setting can follow as --Worker:Key=value.
// `--hash-key KEY` prints the SHA-256 form in which API keys are configured.
using System.CommandLine;
using OnnxLora.Onnx;
using OnnxLora.Worker;

namespace OnnxLora.Cli.Commands;

internal static class ServeCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "Data folder: jobs.db, job runs, artifacts, models/ and datasets/ roots" };
        var urls = new Option<string?>("--urls") { Description = $"Listen addresses (default {WorkerOptions.DefaultUrls})" };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL connection string (default: SQLite in the data folder)" };
        var concurrency = new Option<int?>("--concurrency") { Description = "Jobs run at once (one per device)" };
        var apiKey = new Option<string[]>("--api-key") { Description = "TENANT=SHA256 of a bearer key (see --hash-key); repeatable", Arity = ArgumentArity.ZeroOrMore };
        var hashKey = new Option<string?>("--hash-key") { Description = "Print the SHA-256 of this key and exit" };
        var cmd = new Command("serve", "Run the training-job worker: HTTP API + job runner (SQLite by default, PostgreSQL for many workers)")
        {
            dataDir, urls, postgres, concurrency, apiKey, hashKey,
        };
        cmd.TreatUnmatchedTokensAsErrors = false;
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            if (r.GetValue(hashKey) is { } key)
            {
                Console.WriteLine(ApiKeyHash.Of(key));
                return 0;
            }
            var settings = new Dictionary<string, string?>();
            void Set(string name, string? value)
            {
                if (value is not null)
                {
                    settings[$"{WorkerOptions.Section}:{name}"] = value;
                }
            }
            Set(nameof(WorkerOptions.DataDir), r.GetValue(dataDir));
            Set(nameof(WorkerOptions.Urls), r.GetValue(urls));
            if (r.GetValue(postgres) is { } pg)
            {
                Set(nameof(WorkerOptions.Store), "postgres");
                Set(nameof(WorkerOptions.ConnectionString), pg);
            }
            Set(nameof(WorkerOptions.Concurrency), r.GetValue(concurrency)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
            int i = 0;
            foreach (var entry in r.GetValue(apiKey) ?? [])
            {
                var parts = entry.Split('=', 2);
                if (parts.Length != 2 || parts[1].Length != 64)
                {
                    throw new BadInputException($"--api-key '{entry}' must look like TENANT=<64 hex digits of SHA-256>");
                }
                Set($"{nameof(WorkerOptions.ApiKeys)}:{i}:{nameof(ApiKeyEntry.Tenant)}", parts[0]);
                Set($"{nameof(WorkerOptions.ApiKeys)}:{i}:{nameof(ApiKeyEntry.KeySha256)}", parts[1]);
                i++;
            }
            // Remaining tokens (--Worker:LeaseSeconds=5 ...) go to the host's configuration; flags above win.
            var app = WorkerHost.CreateAsync([.. r.UnmatchedTokens], settings).GetAwaiter().GetResult();
            app.Run();
            return 0;
        }));
        return cmd;
    }
}
