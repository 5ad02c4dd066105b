// Parity leaves nothing out silently: every reference tensor of the fixture's reference.safetensors (batch
// inputs aside) is either compared or listed with the reason, and with --reference-key pairs our outputs
// outside the pairs are listed too. Runs the base model only (no adapter), so it is quick.
using OnnxLora.Onnx.Safetensors;
using OnnxLora.Training.Parity;

namespace OnnxLora.Training.Tests;

public sealed class ParityGapTests
{
    [Fact]
    public void EveryReferenceTensorIsComparedOrListedWithItsReason()
    {
        var r = ParityRunner.Run(new ParityOptions { Model = Fixture.Base, Batch = Fixture.Reference });

        using var file = SafetensorsFile.Open(Fixture.Reference);
        var answers = file.Names.Where(n => !ParityBatch.InputNames.Contains(n)).Order(StringComparer.Ordinal).ToList();
        var accounted = r.Comparisons.Select(c => c.Reference).Concat(r.NotCompared.Select(g => g.Name)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(answers, accounted); // each exactly once

        Assert.Equal(["base.logits", "base.loss"], r.Comparisons.Select(c => c.Reference).Order(StringComparer.Ordinal));
        Assert.Equal("no merged model given (compare one with --model <merged> --reference-key base.logits=merged.logits)",
            Assert.Single(r.NotCompared, g => g.Name == "merged.logits").Reason);
        var adapterOnly = r.NotCompared.Where(g => g.Name.StartsWith("lora.", StringComparison.Ordinal) || g.Name.StartsWith("grad.", StringComparison.Ordinal)).ToList();
        Assert.Equal(2 + 28, adapterOnly.Count); // lora.logits, lora.loss and 28 LoRA gradients
        Assert.All(adapterOnly, g => Assert.Equal("no --adapter given", g.Reason));
        Assert.Empty(r.NoReference);
    }

    [Fact]
    public void ReferenceKeyPairsListBothSidesLeftOutsideThePairs()
    {
        var r = ParityRunner.Run(new ParityOptions
        {
            Model = Fixture.Base, Batch = Fixture.Reference,
            ReferenceKeys = new Dictionary<string, string> { ["base.logits"] = "base.logits" },
        });
        Assert.Equal("base.logits", Assert.Single(r.Comparisons).Reference);
        Assert.Equal("not among the --reference-key pairs", Assert.Single(r.NoReference, g => g.Name == "base.loss").Reason);
        Assert.Equal("not among the --reference-key pairs", Assert.Single(r.NotCompared, g => g.Name == "base.loss").Reason);
        Assert.Equal("not among the --reference-key pairs", Assert.Single(r.NotCompared, g => g.Name == "merged.logits").Reason);
    }
}
