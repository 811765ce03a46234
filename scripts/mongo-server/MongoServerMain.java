// Starts mongo-java-server on a port, with an H2 file backend (data survives restarts) or in memory.
// Usage: java -cp 'target/dependency/*' MongoServerMain.java <port> [<h2-file>|:memory:]
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

public class MongoServerMain {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        String file = args.length > 1 ? args[1] : ":memory:";
        H2Backend backend = file.equals(":memory:") ? H2Backend.inMemory() : new H2Backend(file);
        MongoServer server = new MongoServer(backend);
        server.bind("127.0.0.1", port);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdown();
            backend.close();
        }));
        System.out.println("mongo-java-server listening on 127.0.0.1:" + port + " (" + file + ")");
        Thread.currentThread().join();
    }
}
