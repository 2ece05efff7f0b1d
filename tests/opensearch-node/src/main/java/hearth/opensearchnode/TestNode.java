// A single-node OpenSearch server for tests: the real engine with the HTTP transport and the
// common analysis plugin, listening on 127.0.0.1 only.
package hearth.opensearchnode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Usage: {@code TestNode HTTP_PORT [HOME_DIR]}. Runs until the process is terminated. The
 * home directory (default: a fresh temporary one) holds the data, with empty {@code modules/}
 * and {@code plugins/}: the plugins come from the classpath instead.
 */
public final class TestNode extends Node {
    private static final List<Class<? extends Plugin>> PLUGINS =
        List.of(Netty4Plugin.class, CommonAnalysisPlugin.class);

    private TestNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: TestNode HTTP_PORT [HOME_DIR]");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path home = args.length == 2
            ? Files.createDirectories(Path.of(args[1]))
            : Files.createTempDirectory("opensearch-node");
        Files.createDirectories(home.resolve("modules"));
        Files.createDirectories(home.resolve("plugins"));
        Files.createDirectories(home.resolve("config"));

        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("node.name", "hearth-test-node")
            .put("cluster.name", "hearth-test")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .build();
        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName("hearth-test-node");
        LogConfigurator.configureWithoutConfig(settings);

        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), home.resolve("config"), () -> "hearth-test-node");
        TestNode node = new TestNode(environment, PLUGINS);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(10, TimeUnit.SECONDS);
            } catch (IOException | InterruptedException e) {
                System.err.println("closing the node failed: " + e);
            } finally {
                stopped.countDown();
            }
        }, "node-shutdown"));
        node.start();
        System.out.println("opensearch test node listening on 127.0.0.1:" + port);
        stopped.await();
    }
}
