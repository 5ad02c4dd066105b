// Dynamic loss scaling for fp16/bf16 training, with torch.amp.GradScaler's policy: the backward pass
// is seeded with `Scale`; a step whose gradients are non-finite is skipped and halves the scale;
// every GrowthInterval consecutive good steps doubles it. It holds no tensors: the engine feeds
// Scale to the graph's loss_scale input and divides it out through the optimizer's grad_scale.
namespace OnnxLora.Training.Engine;

public sealed class DynamicLossScaler
{
    public DynamicLossScaler(float initialScale = 65536f, int growthInterval = 2000, float growthFactor = 2f, float backoffFactor = 0.5f)
    {
        if (!(initialScale > 0) || growthInterval < 1 || !(growthFactor > 1) || !(backoffFactor is > 0 and < 1))
        {
            throw new ArgumentException("loss scaler: scale > 0, growth interval ≥ 1, growth factor > 1, backoff in (0,1)");
        }
        Scale = initialScale;
        GrowthInterval = growthInterval;
        GrowthFactor = growthFactor;
        BackoffFactor = backoffFactor;
    }

    public float Scale { get; private set; }

    public int GrowthInterval { get; }

    public float GrowthFactor { get; }

    public float BackoffFactor { get; }

    /// <summary>Steps skipped because their gradients overflowed.</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>Consecutive finite steps since the last change of scale.</summary>
    public int GoodSteps { get; private set; }

    /// <summary>Records one optimizer step's outcome and adjusts the scale for the next.</summary>
    public void Update(bool finite)
    {
        if (!finite)
        {
            SkippedSteps++;
            GoodSteps = 0;
            Scale *= BackoffFactor;
            return;
        }
        if (++GoodSteps >= GrowthInterval)
        {
            GoodSteps = 0;
            Scale *= GrowthFactor;
        }
    }
}
