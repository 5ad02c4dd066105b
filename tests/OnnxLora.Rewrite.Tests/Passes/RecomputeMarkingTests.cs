// RecomputeMarking: x·Sigmoid(x) in either operand order gets its two nodes moved into the recompute scope,
// a Sigmoid that gates another value (σ(g)·u) or feeds anything but that Mul stays unmarked, a second run
// marks nothing twice, and the graph computes bit-identical outputs before and after (only names change).
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests.Passes;

public sealed class RecomputeMarkingTests
{
    private const int N = 3, F = 8;

    [Fact]
    public void MarksSiluInEitherOperandOrderAndNothingElse()
    {
        var m = Graph();
        var before = m.Graph.Nodes.ToDictionary(n => n.Outputs[0], n => n.Name);

        Assert.True(RecomputeMarking.Run(m).Modified);

        var after = m.Graph.Nodes.ToDictionary(n => n.Outputs[0], n => n);
        foreach (var silu in new[] { "sig_a", "silu_a", "sig_b", "silu_b" })
        {
            Assert.True(Recomputation.IsMarked(after[silu]), $"{before[silu]} should be marked, is '{after[silu].Name}'");
            Assert.StartsWith("/mlp/", after[silu].Name, StringComparison.Ordinal); // keeps its scope
        }
        foreach (var other in new[] { "sig_gate", "gated", "sig_c", "sum_c" })
        {
            Assert.Equal(before[other], after[other].Name);
        }
    }

    [Fact]
    public void SecondRunMarksNothingTwice()
    {
        var m = Graph();
        RecomputeMarking.Run(m);
        var names = m.Graph.Nodes.Select(n => n.Name).ToList();
        Assert.False(RecomputeMarking.Run(m).Modified);
        Assert.Equal(names, m.Graph.Nodes.Select(n => n.Name));
        Assert.All(names, n => Assert.DoesNotContain("recompute/recompute/", n, StringComparison.Ordinal));
    }

    [Fact]
    public void OutputsAreBitIdenticalAfterMarking()
    {
        var feeds = new List<Feed>
        {
            new("a", OrtGraphRunner.Random(21, N * F, 4f), [N, F]), new("b", OrtGraphRunner.Random(22, N * F, 4f), [N, F]),
            new("g", OrtGraphRunner.Random(23, N * F, 4f), [N, F]), new("u", OrtGraphRunner.Random(24, N * F, 4f), [N, F]),
            new("c", OrtGraphRunner.Random(25, N * F, 4f), [N, F]),
        };
        string[] outputs = ["silu_a", "silu_b", "gated", "sum_c"];
        var expected = OrtGraphRunner.Run(Graph(), feeds, outputs);
        var marked = Graph();
        Assert.True(RecomputeMarking.Run(marked).Modified);
        var actual = OrtGraphRunner.Run(marked, feeds, outputs);
        foreach (var o in outputs)
        {
            Assert.Equal(expected[o], actual[o]);
        }
    }

    /// <summary>
    /// silu_a = a·σ(a), silu_b = σ(b)·b (SiLU, both orders); gated = σ(g)·u (a gate, not SiLU);
    /// sum_c = σ(c) + c (a Sigmoid whose consumer is not a Mul). All (N,F) float32.
    /// </summary>
    private static Model Graph()
    {
        var g = new Graph { Name = "silu" };
        foreach (var name in new[] { "a", "b", "g", "u", "c" })
        {
            g.Inputs.Add(Onnx.Ir.Graph.MakeValueInfo(name, ElementType.Float, N, F));
        }
        g.AddNode(new Node("Sigmoid", "/mlp/act_fn/Sigmoid", ["a"], ["sig_a"]));
        g.AddNode(new Node("Mul", "/mlp/act_fn/Mul", ["a", "sig_a"], ["silu_a"]));
        g.AddNode(new Node("Sigmoid", "/mlp/act_fn_1/Sigmoid", ["b"], ["sig_b"]));
        g.AddNode(new Node("Mul", "/mlp/act_fn_1/Mul", ["sig_b", "b"], ["silu_b"]));
        g.AddNode(new Node("Sigmoid", "/gate/Sigmoid", ["g"], ["sig_gate"]));
        g.AddNode(new Node("Mul", "/gate/Mul", ["sig_gate", "u"], ["gated"]));
        g.AddNode(new Node("Sigmoid", "/other/Sigmoid", ["c"], ["sig_c"]));
        g.AddNode(new Node("Add", "/other/Add", ["sig_c", "c"], ["sum_c"]));
        foreach (var name in new[] { "silu_a", "silu_b", "gated", "sum_c" })
        {
            g.Outputs.Add(Onnx.Ir.Graph.MakeValueInfo(name, ElementType.Float, N, F));
        }
        return new Model(g);
    }
}
