// PEFT's default LoRA initialisation: A ~ Kaiming-uniform(a=√5) = U(−1/√in, 1/√in), B = 0.
// Seeded and deterministic (our own generator, so values differ from torch's for the same seed).
namespace OnnxLora.Rewrite.Lora;

public static class LoraInit
{
    public static (float[] A, float[] B) Initialize(LoraTarget t, int seed)
    {
        // HashCode.Combine is salted per process; the seed must give the same A in every process.
        var rng = new Random(unchecked((seed * 16777619) ^ StableHash(t.Module)));
        float bound = 1f / MathF.Sqrt(t.In);
        var a = new float[t.Rank * t.In];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
        }
        return (a, new float[t.Out * t.Rank]);
    }

    private static int StableHash(string s)
    {
        unchecked
        {
            int h = (int)2166136261;
            foreach (char c in s)
            {
                h = (h ^ c) * 16777619;
            }
            return h;
        }
    }
}
