using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Sam2Interactive.StandIns;

/// <summary>One tensor dimension of a graph input/output: a fixed size or a symbolic name (ONNX <c>dim_param</c>).</summary>
internal readonly record struct Dim(long Value, string? Param)
{
    public static implicit operator Dim(long value) => new(value, null);

    public static implicit operator Dim(string param) => new(0, param);
}

/// <summary>
/// Minimal append-only ONNX graph builder over OnnxSharp's protobuf types. Node outputs get unique generated names
/// (<c>t0</c>, <c>t1</c>, ...) so graphs built in the same order serialise to the same bytes.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    /// <summary>ONNX TensorProto.DataType codes used here.</summary>
    public const int Float = 1, Int32 = 6, Int64 = 7, Bool = 9;

    private readonly GraphProto _graph;
    private int _counter;

    public OnnxGraphBuilder(string graphName) => _graph = new GraphProto { Name = graphName };

    public void Input(string name, int elemType, params Dim[] dims) => _graph.Input.Add(ValueInfo(name, elemType, dims));

    public void Output(string name, int elemType, params Dim[] dims) => _graph.Output.Add(ValueInfo(name, elemType, dims));

    /// <summary>Adds a node with one output and returns that output's name (<paramref name="output"/> or a generated one).</summary>
    public string Op(string opType, string[] inputs, AttributeProto[]? attributes = null, string? output = null)
    {
        output ??= "t" + _counter++;
        var node = new NodeProto { OpType = opType, Name = opType + "_" + _graph.Node.Count };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        if (attributes is not null)
        {
            node.Attribute.AddRange(attributes);
        }

        _graph.Node.Add(node);
        return output;
    }

    public string Op(string opType, params string[] inputs) => Op(opType, inputs, null);

    /// <summary>Float initializer (raw little-endian data) with the given dims; returns its name.</summary>
    public string Floats(ReadOnlySpan<float> values, params long[] dims) =>
        Initializer(Float, MemoryMarshal.AsBytes(values), dims);

    /// <summary>Int64 initializer; an empty <paramref name="dims"/> makes a scalar.</summary>
    public string Int64s(ReadOnlySpan<long> values, params long[] dims) =>
        Initializer(Int64, MemoryMarshal.AsBytes(values), dims);

    public string Scalar(float value) => Floats([value]);

    public string Scalar(long value) => Int64s([value]);

    public ModelProto Build(string producer)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = producer, ProducerVersion = "1", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Str(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    private string Initializer(int dataType, ReadOnlySpan<byte> raw, long[] dims)
    {
        var name = "c" + _counter++;
        var t = new TensorProto { Name = name, DataType = dataType, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        _graph.Initializer.Add(t);
        return name;
    }

    private static ValueInfoProto ValueInfo(string name, int elemType, Dim[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d.Param is null
                ? new TensorShapeProto.Types.Dimension { DimValue = d.Value }
                : new TensorShapeProto.Types.Dimension { DimParam = d.Param });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }
}
