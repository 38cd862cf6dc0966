/**
 * A Kubernetes image pull Secret holding docker credentials, as `doctl registry
 * kubernetes-manifest` prints it: type kubernetes.io/dockerconfigjson, named
 * registry-<registry> in kube-system by default, where DigitalOcean's secret operator
 * annotation lets it copy the secret into every namespace.
 */
export function kubernetesSecret(dockerConfigJson: string, options: { name: string; namespace: string }): string {
  const base64 = btoa(dockerConfigJson);
  const lines = ['apiVersion: v1', 'data:', `  .dockerconfigjson: ${base64}`, 'kind: Secret', 'metadata:'];
  if (options.namespace === 'kube-system') lines.push('  annotations:', `    digitalocean.com/dosecret-identifier: ${yamlString(options.name)}`);
  lines.push('  creationTimestamp: null', `  name: ${yamlString(options.name)}`, `  namespace: ${yamlString(options.namespace)}`, 'type: kubernetes.io/dockerconfigjson', '');
  return lines.join('\n');
}

/** Kubernetes names are DNS labels, safe bare; anything else is quoted. */
function yamlString(value: string): string {
  return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(value) ? value : JSON.stringify(value);
}
