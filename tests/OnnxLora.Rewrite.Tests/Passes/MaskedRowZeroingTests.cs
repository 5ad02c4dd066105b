// MaskedRowZeroing on eager attention in standard ops, in both forms exporters write: softmax(scores + additive mask)
// and softmax(where(condition, scores, -inf)). After the pass, ORT's output equals an SDPA reference computed here:
// a query row that sees no key (a left pad) outputs zeros, every other row is softmax over its visible keys times v.
// T = 4 positions, D = 3 features; the first position is a left pad.
using OnnxLora.Onnx.Ir;
using OnnxLora.Rewrite.Passes;

namespace OnnxLora.Rewrite.Tests.Passes;

public sealed class MaskedRowZeroingTests
{
    /// <summary>Softmax and two 3-term float32 matmuls in ORT vs the double-precision reference.</summary>
    private const double Fp32Tolerance = 1e-5;

    private const int T = 4, D = 3;

    // visible[i, j]: row i sees key j (causal, position 0 is padding and sees nothing)
    private static bool Visible(int i, int j) => j <= i && j >= 1 && i >= 1;

    [Fact]
    public void AdditiveMaskRowsWithNoVisibleKeyOutputZeros()
    {
        var mask = new float[T * T];
        for (int i = 0; i < T; i++)
        {
            for (int j = 0; j < T; j++)
            {
                mask[i * T + j] = Visible(i, j) ? 0f : float.MinValue; // transformers' finfo.min
            }
        }
        CheckAgainstReference(whereForm: false, mask);
    }

    [Fact]
    public void BooleanWhereMaskRowsWithNoVisibleKeyOutputZerosInsteadOfNaN()
    {
        var condition = new float[T * T];
        for (int i = 0; i < T; i++)
        {
            for (int j = 0; j < T; j++)
            {
                condition[i * T + j] = Visible(i, j) ? 1f : 0f;
            }
        }
        var feeds = Feeds(condition);
        var before = OrtGraphRunner.Run(Attention(whereForm: true), feeds, "y")["y"];
        Assert.Contains(before.Take(D), float.IsNaN); // softmax over all -inf: what the unpatched graph gives a pad row
        CheckAgainstReference(whereForm: true, condition);
    }

    [Fact]
    public void SoftmaxOverUnmaskedScoresIsRefusedNamingTheNode()
    {
        var g = Attention(whereForm: false).Graph;
        var add = g.Nodes.Single(n => n.OpType == "Add");
        add.Inputs[1] = add.Inputs[0]; // scores + scores: no mask operand
        var error = Assert.Throws<RewriteException>(() => MaskedRowZeroing.Run(new Model(g)));
        Assert.Contains("/attn/Softmax", error.Message);
    }

    private static void CheckAgainstReference(bool whereForm, float[] maskInput)
    {
        var feeds = Feeds(maskInput);
        var model = Attention(whereForm);
        Assert.True(MaskedRowZeroing.Run(model).Modified);
        var actual = OrtGraphRunner.Run(model, feeds, "y")["y"];
        var expected = Reference((float[])feeds[0].Data);
        Assert.All(actual.Take(D), v => Assert.Equal(0f, v));
        Assert.True(OrtGraphRunner.MaxAbsDiff(expected, actual) <= Fp32Tolerance, $"max |diff| {OrtGraphRunner.MaxAbsDiff(expected, actual)}");
    }

    private static List<Feed> Feeds(float[] mask) =>
        [new("x", OrtGraphRunner.Random(1, T * D), [T, D]), new("mask", mask, [T, T])];

    // SDPA in double: q = k = v = x·W, out_i = Σ_j softmax_j(q_i·k_j over visible j) v_j, 0 when no j is visible.
    private static float[] Reference(float[] x)
    {
        var w = Weight();
        var q = new double[T, D];
        for (int i = 0; i < T; i++)
        {
            for (int o = 0; o < D; o++)
            {
                for (int k = 0; k < D; k++)
                {
                    q[i, o] += (double)x[i * D + k] * w[k * D + o];
                }
            }
        }
        var y = new float[T * D];
        for (int i = 0; i < T; i++)
        {
            var visible = Enumerable.Range(0, T).Where(j => Visible(i, j)).ToArray();
            if (visible.Length == 0)
            {
                continue;
            }
            var s = visible.Select(j => Enumerable.Range(0, D).Sum(k => q[i, k] * q[j, k])).ToArray();
            double max = s.Max(), sum = s.Sum(v => Math.Exp(v - max));
            for (int o = 0; o < D; o++)
            {
                y[i * D + o] = (float)visible.Select((j, n) => Math.Exp(s[n] - max) / sum * q[j, o]).Sum();
            }
        }
        return y;
    }

    private static float[] Weight() => OrtGraphRunner.Random(2, D * D);

    // x (T,D) · W → q; scores = q·qᵀ; masked by Add(scores, mask) or Where(Cast(mask, bool), scores, -inf); softmax; · q.
    private static Model Attention(bool whereForm)
    {
        var g = new Graph();
        g.Inputs.Add(Graph.MakeValueInfo("x", ElementType.Float, T, D));
        g.Inputs.Add(Graph.MakeValueInfo("mask", ElementType.Float, T, T));
        g.AddInitializer(Initializer.FromFloats("model.layers.0.self_attn.q_proj.weight", Weight(), D, D));
        g.AddInitializer(Initializer.FromFloats("fill", [float.NegativeInfinity]));
        g.AddNode(new Node("MatMul", "/attn/q", ["x", "model.layers.0.self_attn.q_proj.weight"], ["q"]));
        g.AddNode(new Node("Transpose", "/attn/kT", ["q"], ["kT"]));
        g.AddNode(new Node("MatMul", "/attn/scores", ["q", "kT"], ["scores"]));
        if (whereForm)
        {
            g.AddNode(new Node("Cast", "/attn/cond", ["mask"], ["cond"])).SetAttribute("to", (long)ElementType.Bool);
            g.AddNode(new Node("Where", "/attn/Where", ["cond", "scores", "fill"], ["masked"]));
        }
        else
        {
            g.AddNode(new Node("Add", "/attn/Add", ["scores", "mask"], ["masked"]));
        }
        g.AddNode(new Node("Softmax", "/attn/Softmax", ["masked"], ["probs"])).SetAttribute("axis", -1L);
        g.AddNode(new Node("MatMul", "/attn/pv", ["probs", "q"], ["y"]));
        g.Outputs.Add(Graph.MakeValueInfo("y", ElementType.Float, T, D));
        return new Model(g);
    }
}
