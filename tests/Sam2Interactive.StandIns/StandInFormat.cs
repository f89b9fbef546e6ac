namespace Sam2Interactive.StandIns;

/// <summary>Which real SAM2 ONNX export's I/O signature a stand-in model pair reproduces (see shared docs docs/sam2-onnx.md §1).</summary>
public enum StandInFormat
{
    /// <summary>vietanhdev/samexporter (AnyLabeling, X-AnyLabeling): 7-input decoder, float labels, 256×256 logits.</summary>
    SamExporter,

    /// <summary>onnx-community/sam2.1-hiera-*-ONNX (transformers.js): batched points/boxes, int64 labels, external data.</summary>
    OnnxCommunity,

    /// <summary>samexporter inputs plus <c>orig_im_size</c> int32 [2]; full-size masks (ibaiGorordo / CVAT style).</summary>
    OrigImSizeInt32,

    /// <summary>As <see cref="OrigImSizeInt32"/> with <c>orig_im_size</c> int64 [2] (osam style).</summary>
    OrigImSizeInt64,
}
