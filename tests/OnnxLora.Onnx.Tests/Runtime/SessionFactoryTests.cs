// SessionFactory turns RuntimeOptions into ORT SessionOptions and sessions. What ORT lets us read back is
// checked as such: the managed SessionOptions fields (threads, arena, memory pattern, profiling) — ORT's C API
// has no getter for config entries, so a bad entry is checked by its effect instead — and profiling by the
// file it writes. --device cuda on the CPU build (what CI runs) fails with one line saying how to get the CUDA build.
using Microsoft.ML.OnnxRuntime;
using OnnxLora.Onnx.IO;
using OnnxLora.Onnx.Ir;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Onnx.Tests.Runtime;

public sealed class SessionFactoryTests
{
    [Fact]
    public void OptionsCarryThreadsArenaAndMemoryPattern()
    {
        using var o = SessionFactory.CreateOptions(new RuntimeOptions { Threads = 3, CpuArena = false, MemoryPattern = true }, "m");
        Assert.Equal(3, o.IntraOpNumThreads);
        Assert.False(o.EnableCpuMemArena);
        Assert.True(o.EnableMemoryPattern);
        Assert.False(o.EnableProfiling);
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, o.GraphOptimizationLevel);
    }

    [Fact]
    public void DefaultOptionsKeepOrtThreadsAndArenaAndTurnMemoryPatternOff()
    {
        using var o = SessionFactory.CreateOptions(new RuntimeOptions(), "m");
        Assert.Equal(0, o.IntraOpNumThreads);
        Assert.True(o.EnableCpuMemArena);
        Assert.False(o.EnableMemoryPattern);
    }

    [Fact]
    public void SpinningIsOffByDefaultAndAnExplicitEntryWins()
    {
        Assert.Equal("0", SessionFactory.ConfigEntries(new RuntimeOptions())[SessionFactory.AllowSpinningKey]);
        Assert.False(SessionFactory.ConfigEntries(new RuntimeOptions { Spinning = true }).ContainsKey(SessionFactory.AllowSpinningKey));
        var own = new Dictionary<string, string> { [SessionFactory.AllowSpinningKey] = "1", ["session.disable_prepacking"] = "1" };
        var entries = SessionFactory.ConfigEntries(new RuntimeOptions { SessionConfig = own });
        Assert.Equal("1", entries[SessionFactory.AllowSpinningKey]);
        Assert.Equal("1", entries["session.disable_prepacking"]);
        Assert.Equal(2, entries.Count);
    }

    [Fact]
    public void ProfilePrefixWritesOneProfilePerReleasedSession()
    {
        using var dir = new TempDir();
        var runtime = new RuntimeOptions { ProfilePrefix = dir["prof"] };
        string written = "";
        var before = SessionFactory.ProfileWritten;
        SessionFactory.ProfileWritten = p => written = p;
        try
        {
            var session = SessionFactory.Create(TanhModel(dir), runtime);
            Run(session);
            SessionFactory.Release(session, runtime);
        }
        finally
        {
            SessionFactory.ProfileWritten = before;
        }
        var file = Assert.Single(Directory.GetFiles(dir.Path, "prof_model_*.json"));
        Assert.Equal(Path.GetFileName(file), Path.GetFileName(written));
        Assert.Contains("\"name\"", File.ReadAllText(file), StringComparison.Ordinal);
    }

    [Fact]
    public void SessionConfigEntriesReachOrt()
    {
        using var dir = new TempDir();
        var model = TanhModel(dir);
        using (var ok = SessionFactory.Create(model, new RuntimeOptions { SessionConfig = new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0" } }))
        {
            Run(ok);
        }
        // ORT validates this entry when the session is created: a value it cannot parse fails there
        var bad = new RuntimeOptions { SessionConfig = new Dictionary<string, string> { ["session.graph_optimizations_loop_level"] = "not-a-number" } };
        Assert.ThrowsAny<OnnxRuntimeException>(() => SessionFactory.Create(model, bad).Dispose());
    }

    [Fact]
    public void NegativeThreadsAreRefusedNamingTheKey()
    {
        var e = Assert.Throws<BadInputException>(() => SessionFactory.CreateOptions(new RuntimeOptions { Threads = -1 }, "m"));
        Assert.StartsWith("runtime.threads: threads must be >= 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CudaOnTheCpuBuildSaysHowToGetTheCudaBuild()
    {
        var model = Path.Combine(Path.GetTempPath(), "model-never-loaded.onnx"); // the provider fails before the model is read
        var e = Assert.Throws<BadInputException>(() => SessionFactory.Create(model, new RuntimeOptions { Device = Device.Cuda }));
        Assert.StartsWith("--device cuda: ", e.Message, StringComparison.Ordinal);
        Assert.Contains("-p:OnnxLoraCuda=true", e.Message, StringComparison.Ordinal);
    }

    /// <summary>y = tanh(x), x (2,3) float.</summary>
    private static string TanhModel(TempDir dir)
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, 2, 3));
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, 2, 3));
        new GraphBuilder(g).NodeWithOutputs("Tanh", ["x"], ["y"]);
        var path = dir["model.onnx"];
        ModelWriter.Save(new Model(g), path);
        return path;
    }

    private static void Run(InferenceSession session)
    {
        using var x = OrtValue.CreateTensorValueFromMemory(new float[] { 0, 1, 2, 3, 4, 5 }, [2, 3]);
        using var run = new RunOptions();
        using var r = session.Run(run, ["x"], [x], ["y"]);
        Assert.Equal(MathF.Tanh(1), r[0].GetTensorDataAsSpan<float>()[1], 6);
    }
}
