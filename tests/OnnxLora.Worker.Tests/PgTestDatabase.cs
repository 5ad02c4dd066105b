// A private schema in the PostgreSQL test database (ONNXLORA_TEST_PG, as .ci/run exports it) for one test
// class. Unreachable server: under CI=true the tests fail; elsewhere they are reported as skipped, with the reason
// (README "Worker service" says how to start a local server).
using Npgsql;

namespace OnnxLora.Worker.Tests;

public sealed class PgTestDatabase : IDisposable
{
    public const string EnvVar = "ONNXLORA_TEST_PG";
    public const string DefaultConnection = "Host=127.0.0.1;Username=onnxlora;Password=onnxlora;Database=onnxlora_test";

    private readonly string? _schema;

    public PgTestDatabase()
    {
        var baseConnection = Environment.GetEnvironmentVariable(EnvVar) ?? DefaultConnection;
        try
        {
            using var conn = new NpgsqlConnection(baseConnection);
            conn.Open();
            _schema = "t_" + Guid.NewGuid().ToString("N")[..12];
            using var cmd = new NpgsqlCommand($"CREATE SCHEMA {_schema}", conn);
            cmd.ExecuteNonQuery();
            ConnectionString = new NpgsqlConnectionStringBuilder(baseConnection) { SearchPath = _schema }.ToString();
        }
        catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"PostgreSQL is required under CI ({EnvVar}): {e.Message}", e);
            }
            SkipReason = $"PostgreSQL not reachable at {EnvVar} ({e.Message}); see README, Worker service, to run these tests";
        }
    }

    /// <summary>Why the tests skip when <see cref="ConnectionString"/> is null.</summary>
    public string SkipReason { get; } = "";

    /// <summary>Connection string into the private schema; null when no server is reachable (outside CI only).</summary>
    public string? ConnectionString { get; }

    public void Dispose()
    {
        if (_schema is null)
        {
            return;
        }
        try
        {
            NpgsqlConnection.ClearAllPools();
            using var conn = new NpgsqlConnection(Environment.GetEnvironmentVariable(EnvVar) ?? DefaultConnection);
            conn.Open();
            using var cmd = new NpgsqlCommand($"DROP SCHEMA {_schema} CASCADE", conn);
            cmd.ExecuteNonQuery();
        }
        catch (NpgsqlException)
        {
        }
    }
}
