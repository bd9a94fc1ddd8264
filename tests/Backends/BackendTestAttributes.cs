using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace NativeConv.Tests.Backends;

/// <summary>
/// A [Fact] of the backend suite. The concrete suite class may declare <c>public static string? SkipReason(string test)</c>;
/// when it returns a reason (no CUDA device here, a CPU kernel not landed yet) the test is reported as SKIPPED with that
/// reason instead of running — never silently passed.
/// </summary>
[XunitTestCaseDiscoverer("NativeConv.Tests.Backends.BackendFactDiscoverer", "NativeConv.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendFactAttribute : FactAttribute { }

/// <summary>The [Theory] twin of <see cref="BackendFactAttribute"/>.</summary>
[XunitTestCaseDiscoverer("NativeConv.Tests.Backends.BackendTheoryDiscoverer", "NativeConv.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendTheoryAttribute : TheoryAttribute { }

internal static class BackendSkip
{
    public static string? ReasonFor(ITestMethod testMethod)
    {
        var type = testMethod.TestClass.Class.ToRuntimeType();
        var method = type?.GetMethod("SkipReason", BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly,
            [typeof(string)]);
        return method?.Invoke(null, [testMethod.Method.Name]) as string;
    }
}

public sealed class BackendFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        string? reason = BackendSkip.ReasonFor(testMethod);
        if (reason is null) return base.Discover(discoveryOptions, testMethod, factAttribute);
        return [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
            discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)];
    }
}

public sealed class BackendTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    public override IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo theoryAttribute)
    {
        string? reason = BackendSkip.ReasonFor(testMethod);
        if (reason is null) return base.Discover(discoveryOptions, testMethod, theoryAttribute);
        return [new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
            discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason)];
    }
}
