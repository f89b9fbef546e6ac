using NUnit.Framework;

namespace Sam2Interactive.Tests;

[TestFixture]
public sealed class SmokeTests
{
    [Test]
    public void Build_Skeleton_Compiles() => Assert.That(typeof(Sam2Interactive.Encoder.EncoderServiceCollectionExtensions).Assembly.GetName().Name, Is.EqualTo("Sam2Interactive.Encoder"));
}
