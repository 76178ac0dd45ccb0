"""The Spark edge: Java, the session, and the cluster and Spark Connect daemons."""
