namespace Sam2Interactive.Decoder;

/// <summary>A click in original-image pixels (x right, y down; after EXIF orientation).</summary>
public readonly record struct PromptPoint(float X, float Y, bool Positive);

/// <summary>An axis-aligned box in original-image pixels: (X0, Y0) top-left, (X1, Y1) bottom-right.</summary>
public readonly record struct PromptBox(float X0, float Y0, float X1, float Y1);

/// <summary>
/// The prompt for one object: any number of clicks and at most one box. One prompt gives one mask.
/// </summary>
public sealed record Prompt(IReadOnlyList<PromptPoint> Points, PromptBox? Box = null);
