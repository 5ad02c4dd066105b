// Paths into ../shared/fixtures/tiny-llama (transformers 5.17 + PEFT 0.21 reference outputs).
namespace OnnxLora.Testing;

public static class Fixture
{
    public static string TinyLlama => Path.Combine(TestPaths.Fixtures, "tiny-llama");
    public static string Base => Path.Combine(TinyLlama, "base");
    public static string Adapter => Path.Combine(TinyLlama, "adapter");
    public static string Reference => Path.Combine(TinyLlama, "reference.safetensors");
    public static string Trajectory => Path.Combine(TinyLlama, "trajectory.json");
}
