using System.Reflection;
using System.Runtime.CompilerServices;
using Xunit.Sdk;
using Xunit.v3;

namespace NativeConv.Tests.Backends;

/// <summary>
/// A [Fact] of the backend suite. The concrete suite class may declare <c>public static string? SkipReason(string test)</c>;
/// when it returns a reason (no CUDA device here, a CPU kernel not landed yet) the test is reported as SKIPPED with that
/// reason instead of running — never silently passed.
/// </summary>
[XunitTestCaseDiscoverer(typeof(BackendFactDiscoverer))]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
    : FactAttribute(sourceFilePath, sourceLineNumber);

/// <summary>The [Theory] twin of <see cref="BackendFactAttribute"/>.</summary>
[XunitTestCaseDiscoverer(typeof(BackendTheoryDiscoverer))]
[AttributeUsage(AttributeTargets.Method)]
public sealed class BackendTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
    : TheoryAttribute(sourceFilePath, sourceLineNumber);

/// <summary>
/// The skip is decided at discovery, per concrete suite class (the attributes sit on the shared base class's methods, so
/// the attribute's own static <c>Skip</c>/<c>SkipUnless</c> cannot tell the CUDA suite from the CPU one). A skipped theory
/// becomes ONE skipped test case carrying the reason, as in xunit v2, rather than one skip per data row.
/// </summary>
internal static class BackendSkip
{
    public static string? ReasonFor(IXunitTestMethod testMethod)
    {
        var method = testMethod.TestClass.Class.GetMethod("SkipReason",
            BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly, [typeof(string)]);
        return method?.Invoke(null, [testMethod.Method.Name]) as string;
    }

    public static IReadOnlyCollection<IXunitTestCase> Skipped(ITestFrameworkDiscoveryOptions discoveryOptions,
        IXunitTestMethod testMethod, IFactAttribute attribute, string reason)
    {
        var details = TestIntrospectionHelper.GetTestCaseDetails(discoveryOptions, testMethod, attribute);
        // Unconditional skip: no SkipType/SkipUnless/SkipWhen, so the runner reports it skipped with this reason.
        return [new XunitTestCase(details.ResolvedTestMethod, details.TestCaseDisplayName, details.UniqueID, details.Explicit,
            details.SkipExceptions, reason, skipType: null, skipUnless: null, skipWhen: null,
            testMethod.Traits.ToDictionary(t => t.Key, t => new HashSet<string>(t.Value, StringComparer.OrdinalIgnoreCase),
                StringComparer.OrdinalIgnoreCase), testMethodArguments: null,
            details.SourceFilePath, details.SourceLineNumber, details.Timeout)];
    }
}

public sealed class BackendFactDiscoverer : FactDiscoverer
{
    public override ValueTask<IReadOnlyCollection<IXunitTestCase>> Discover(ITestFrameworkDiscoveryOptions discoveryOptions,
        IXunitTestMethod testMethod, IFactAttribute factAttribute)
    {
        string? reason = BackendSkip.ReasonFor(testMethod);
        return reason is null
            ? base.Discover(discoveryOptions, testMethod, factAttribute)
            : new(BackendSkip.Skipped(discoveryOptions, testMethod, factAttribute, reason));
    }
}

public sealed class BackendTheoryDiscoverer : TheoryDiscoverer
{
    public override ValueTask<IReadOnlyCollection<IXunitTestCase>> Discover(ITestFrameworkDiscoveryOptions discoveryOptions,
        IXunitTestMethod testMethod, IFactAttribute factAttribute)
    {
        string? reason = BackendSkip.ReasonFor(testMethod);
        return reason is null
            ? base.Discover(discoveryOptions, testMethod, factAttribute)
            : new(BackendSkip.Skipped(discoveryOptions, testMethod, factAttribute, reason));
    }
}
