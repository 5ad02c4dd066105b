// A small mutable ONNX graph: nodes, declared inputs/outputs, initializers, and queries
// (producer, consumers, topological order, fresh names). Indices are rebuilt on demand, so
// passes may edit the lists freely. It does not infer shapes or check op schemas.
using OnnxLora.Onnx.Proto;

namespace OnnxLora.Onnx.Ir;

public sealed class Graph
{
    private readonly HashSet<string> _usedNames = new(StringComparer.Ordinal);
    private int _nameCounter;
    private bool _indexed;

    public string Name { get; set; } = "main";

    public List<Node> Nodes { get; } = [];

    public List<ValueInfoProto> Inputs { get; } = [];

    public List<ValueInfoProto> Outputs { get; } = [];

    public OrderedDictionary<string, Initializer> Initializers { get; } = new(StringComparer.Ordinal);

    /// <summary>Everything else of the GraphProto (value_info, doc_string, metadata, unknown fields).</summary>
    public GraphProto Extra { get; set; } = new();

    public bool IsInitializer(string value) => Initializers.ContainsKey(value);

    public bool IsGraphInput(string value) => Inputs.Any(i => i.Name == value);

    public ValueInfoProto? FindInput(string name) => Inputs.FirstOrDefault(i => i.Name == name);

    public void AddInitializer(Initializer init)
    {
        if (!Initializers.TryAdd(init.Name, init))
        {
            throw new InvalidOperationException($"initializer '{init.Name}' already exists");
        }
        _usedNames.Add(init.Name);
    }

    public Node AddNode(Node node)
    {
        Nodes.Add(node);
        _usedNames.Add(node.Name);
        foreach (var o in node.Outputs)
        {
            _usedNames.Add(o);
        }
        return node;
    }

    /// <summary>A value or node name that is not used anywhere in the graph yet.</summary>
    public string UniqueName(string prefix)
    {
        if (!_indexed)
        {
            IndexNames();
            _indexed = true;
        }
        var name = prefix;
        while (!_usedNames.Add(name))
        {
            name = $"{prefix}_{++_nameCounter}";
        }
        return name;
    }

    private void IndexNames()
    {
        foreach (var n in Nodes)
        {
            _usedNames.Add(n.Name);
            foreach (var o in n.Outputs)
            {
                _usedNames.Add(o);
            }
            foreach (var i in n.Inputs)
            {
                _usedNames.Add(i);
            }
        }
        foreach (var i in Inputs)
        {
            _usedNames.Add(i.Name);
        }
        foreach (var k in Initializers.Keys)
        {
            _usedNames.Add(k);
        }
        _usedNames.Add("");
    }

    /// <summary>Maps each value name to the node producing it.</summary>
    public Dictionary<string, Node> ProducerIndex()
    {
        var map = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in Nodes)
        {
            foreach (var o in n.Outputs)
            {
                if (o.Length > 0)
                {
                    map[o] = n;
                }
            }
        }
        return map;
    }

    /// <summary>Maps each value name to the nodes reading it (in node order).</summary>
    public Dictionary<string, List<Node>> ConsumerIndex()
    {
        var map = new Dictionary<string, List<Node>>(StringComparer.Ordinal);
        foreach (var n in Nodes)
        {
            foreach (var i in n.Inputs)
            {
                if (i.Length == 0)
                {
                    continue;
                }
                if (!map.TryGetValue(i, out var list))
                {
                    map[i] = list = [];
                }
                if (list.Count == 0 || !ReferenceEquals(list[^1], n))
                {
                    list.Add(n);
                }
            }
        }
        return map;
    }

    /// <summary>Reorders <see cref="Nodes"/> so that every node follows its producers (stable Kahn).</summary>
    public void TopologicalSort()
    {
        var producer = ProducerIndex();
        var consumers = ConsumerIndex();
        var pending = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        foreach (var n in Nodes)
        {
            int deps = 0;
            foreach (var i in n.Inputs.Distinct())
            {
                if (i.Length > 0 && producer.TryGetValue(i, out var p) && !ReferenceEquals(p, n))
                {
                    deps++;
                }
            }
            pending[n] = deps;
        }
        var order = new List<Node>(Nodes.Count);
        var ready = new PriorityQueue<Node, int>();
        var position = new Dictionary<Node, int>(ReferenceEqualityComparer.Instance);
        for (int k = 0; k < Nodes.Count; k++)
        {
            position[Nodes[k]] = k;
            if (pending[Nodes[k]] == 0)
            {
                ready.Enqueue(Nodes[k], k);
            }
        }
        while (ready.TryDequeue(out var n, out _))
        {
            order.Add(n);
            foreach (var o in n.Outputs)
            {
                if (o.Length == 0 || !consumers.TryGetValue(o, out var cs))
                {
                    continue;
                }
                foreach (var c in cs)
                {
                    if (--pending[c] == 0)
                    {
                        ready.Enqueue(c, position[c]);
                    }
                }
            }
        }
        if (order.Count != Nodes.Count)
        {
            var stuck = Nodes.First(n => pending[n] > 0);
            throw new InvalidOperationException($"graph '{Name}' has a cycle or a missing producer at {stuck}");
        }
        Nodes.Clear();
        Nodes.AddRange(order);
    }

    /// <summary>Removes nodes whose outputs reach no graph output, and initializers nobody reads.</summary>
    public int RemoveDeadNodes()
    {
        var live = new HashSet<string>(Outputs.Select(o => o.Name), StringComparer.Ordinal);
        var keep = new List<Node>();
        for (int k = Nodes.Count - 1; k >= 0; k--)
        {
            var n = Nodes[k];
            if (n.Outputs.Any(live.Contains))
            {
                keep.Add(n);
                foreach (var i in n.Inputs)
                {
                    live.Add(i);
                }
            }
        }
        keep.Reverse();
        int removed = Nodes.Count - keep.Count;
        Nodes.Clear();
        Nodes.AddRange(keep);
        foreach (var name in Initializers.Keys.Where(k => !live.Contains(k)).ToList())
        {
            Initializers.Remove(name);
        }
        return removed;
    }

    public static ValueInfoProto MakeValueInfo(string name, ElementType type, params Dim[] shape)
    {
        var tt = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var d in shape)
        {
            var dim = new TensorShapeProto.Types.Dimension();
            if (d.Value is { } v)
            {
                dim.DimValue = v;
            }
            else if (d.Symbol is { } s)
            {
                dim.DimParam = s;
            }
            tt.Shape.Dim.Add(dim);
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tt } };
    }

    public static TensorType TypeOf(ValueInfoProto vi)
    {
        var tt = vi.Type?.TensorType ?? throw new InvalidDataException($"value '{vi.Name}' is not a tensor");
        var dims = tt.Shape?.Dim.Select(d => d.HasDimValue ? new Dim(d.DimValue, null) : new Dim(null, d.HasDimParam ? d.DimParam : null))
            .ToArray() ?? [];
        return new TensorType((ElementType)tt.ElemType, dims);
    }
}
