// RuntimeOptions reach ORT GenAI as a genai_config overlay of the decoder's session_options: nothing is
// overlaid for defaults, threads/arena leave greedy tokens unchanged, profiling writes GenAI's session
// profile under our prefix (proof the overlay reached ORT), and a Cuda device is refused in one line.
using OnnxLora.Onnx;
using OnnxLora.Onnx.Runtime;

namespace OnnxLora.Inference.Tests;

public sealed class GenAiRuntimeOptionsTests(InferenceFixture fx) : IClassFixture<InferenceFixture>
{
    private const int NewTokens = 8;

    [Fact]
    public void DefaultsNeedNoOverlay() => Assert.Null(GenAiGenerator.SessionOverlay(new RuntimeOptions()));

    [Fact]
    public void OverlaySetsThreadsArenaAndConfigEntries()
    {
        var json = GenAiGenerator.SessionOverlay(new RuntimeOptions
        {
            Threads = 1, CpuArena = false, SessionConfig = new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0" },
        });
        Assert.Equal("""{"model":{"decoder":{"session_options":{"intra_op_num_threads":1,"enable_cpu_mem_arena":false,"session.intra_op.allow_spinning":"0"}}}}""", json);
    }

    [Fact]
    public void ThreadsAndArenaLeaveGreedyTokensUnchanged()
    {
        int[] prompt = [1, 15, 200, 37, 90];
        var o = new GenerationOptions { MaxNewTokens = NewTokens, MinNewTokens = NewTokens };
        List<int> plain, tuned;
        using (var g = new GenAiGenerator(fx.BaseDir))
        {
            plain = g.GenerateTokens(prompt, o).ToList();
        }
        using (var g = new GenAiGenerator(fx.BaseDir, new RuntimeOptions { Threads = 1, CpuArena = false }))
        {
            tuned = g.GenerateTokens(prompt, o).ToList();
        }
        Assert.Equal(NewTokens, plain.Count);
        Assert.Equal(plain, tuned);
    }

    [Fact]
    public void ProfilePrefixReachesGenAisSession()
    {
        var dir = fx.NewPath("genai-profile");
        Directory.CreateDirectory(dir);
        using (var g = new GenAiGenerator(fx.BaseDir, new RuntimeOptions { ProfilePrefix = Path.Combine(dir, "gp") }))
        {
            _ = g.GenerateTokens([1, 15, 200], new GenerationOptions { MaxNewTokens = 2 }).ToList();
        }
        Assert.NotEmpty(Directory.GetFiles(dir, "gp*.json"));
    }

    [Fact]
    public void CudaIsRefusedInOneLine()
    {
        var e = Assert.Throws<BadInputException>(() => new GenAiGenerator(fx.BaseDir, new RuntimeOptions { Device = Device.Cuda }));
        Assert.Contains("--engine ort --device cuda", e.Message, StringComparison.Ordinal);
    }
}
